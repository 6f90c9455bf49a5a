"""Degree-of-redundancy analysis of any Keras generator.

``analyze(model)`` finds every deconvolution (``Conv2DTranspose`` and its larq and
pbgan forms) and the input projection, and reports for each the degree of
redundancy ``DoR = c_in - h_in * w_in`` (paper Sec. 3) and the plan: binarize where
DoR >= 0. The projection ``z -> h x w x c`` is a deconvolution from a ``1 x 1 x z``
input, so its DoR is ``z - 1``; a ``Dense`` layer before the first deconvolution is
read as that projection.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.layers import PhaseConv2DTranspose, Projection
from pbgan.markdown import text_table

import tensorflow as tf

__all__ = [
    "AnalysisError",
    "LayerDoR",
    "analyze",
    "format_table",
    "is_binarized",
    "load_keras_model",
]


class AnalysisError(ValueError):
    """The model cannot be analysed (not a Keras model, or no deconvolutions)."""


@dataclasses.dataclass(frozen=True)
class LayerDoR:
    layer: str
    kind: str  # "projection" or "deconv"
    c_in: int
    h_in: int
    w_in: int
    binarized: bool  # what the model does now, as opposed to the plan

    @property
    def dor(self) -> int:
        return self.c_in - self.h_in * self.w_in

    @property
    def binarize(self) -> bool:
        return self.dor >= 0

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "c_in": self.c_in,
            "h_in": self.h_in,
            "w_in": self.w_in,
            "dor": self.dor,
            "binarize": self.binarize,
        }


def _walk(model: tf.keras.Model) -> Iterator[tf.keras.layers.Layer]:
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model) and not isinstance(layer, Projection):
            yield from _walk(layer)
        else:
            yield layer


def _input_shape(layer: tf.keras.layers.Layer) -> tuple:
    try:
        return tuple(layer.input.shape)
    except (AttributeError, RuntimeError, ValueError) as err:
        raise AnalysisError(
            f"cannot read the input shape of layer {layer.name!r}: build the model on a fixed "
            "input shape (a functional or built Sequential model)"
        ) from err


def is_binarized(layer: tf.keras.layers.Layer) -> bool:
    """True when the layer computes with binary weights (bwn or xnor)."""
    if isinstance(layer, Projection | PhaseConv2DTranspose):
        return layer.binary
    return getattr(layer, "kernel_quantizer", None) is not None


def _is_deconv(layer: tf.keras.layers.Layer) -> bool:
    return isinstance(layer, tf.keras.layers.Conv2DTranspose | PhaseConv2DTranspose)


def analyze(model: tf.keras.Model) -> list[LayerDoR]:
    """DoR and plan of the projection and every deconvolution, in layer order."""
    layers = list(_walk(model))
    if not any(_is_deconv(layer) for layer in layers):
        raise AnalysisError(
            f"model {model.name!r} has no deconvolution (Conv2DTranspose) layers: "
            "pass a deconvolution-based generator"
        )
    rows: list[LayerDoR] = []
    seen_deconv = False
    for layer in layers:
        if isinstance(layer, Projection) or (
            isinstance(layer, tf.keras.layers.Dense) and not seen_deconv
        ):
            shape = _input_shape(layer)
            if len(shape) != 2:
                continue
            rows.append(
                LayerDoR(layer.name, "projection", int(shape[-1]), 1, 1, is_binarized(layer))
            )
        elif _is_deconv(layer):
            seen_deconv = True
            _, h, w, c = _input_shape(layer)
            if h is None or w is None:
                raise AnalysisError(
                    f"layer {layer.name!r} has an unknown input size: DoR needs a fixed input "
                    "height and width"
                )
            kind = "projection" if h == w == 1 else "deconv"
            rows.append(LayerDoR(layer.name, kind, int(c), int(h), int(w), is_binarized(layer)))
    return rows


def load_keras_model(path: str | os.PathLike) -> tf.keras.Model:
    """Load a ``.keras``/``.h5``/SavedModel generator, with pbgan and larq layers known."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AnalysisError(
            f"{path} does not exist: pass a saved Keras model or an architecture name"
        )
    import pbgan.layers  # noqa: F401  (registers the custom layers)

    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001  (any loader failure means the same to the user)
        reason = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise AnalysisError(
            f"{path} is not a Keras model this version can load ({reason}): pass a .keras, "
            ".h5 or SavedModel folder saved with tf-keras 2.16"
        ) from err


def format_table(rows: list[LayerDoR]) -> str:
    """Human-readable table of :func:`analyze` rows, columns as wide as their content.

    Keras' default names (``conv2d_transpose_12``) are longer than ours, so no width is
    fixed in advance.
    """
    header = ["layer", "kind", "c_in", "h_in", "w_in", "DoR", "plan"]
    body = [
        [r.layer, r.kind, r.c_in, r.h_in, r.w_in, r.dor, "binarize" if r.binarize else "keep float"]
        for r in rows
    ]
    return text_table(header, body)
