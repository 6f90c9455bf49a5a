"""Binarize a user's generator: a model-to-model transform driven by the DoR plan.

``binarize_model(model)`` returns a new model (the input is never changed) in which
every layer the plan binarizes takes its binary form, and every other layer is a copy
of the original with the same weights:

* a ``Conv2DTranspose`` becomes :meth:`PhaseConv2DTranspose.from_transpose
  <pbgan.layers.PhaseConv2DTranspose.from_transpose>` (same name, geometry, bias and
  activation; ``pad_values=0``, so the layer is the given one on signs), its float
  kernel rearranged into the phase form as the latent weights
  (:func:`pbgan.transfer.copy_into_phase`). A binary layer that no batch norm follows
  gets a learned per-channel output scale (a sum of +-1 products is ~sqrt(taps * c_in)
  times too large for the tanh or activation after it);
* the projection, a bias-free linear ``Dense`` on the latent, becomes the project's
  :class:`~pbgan.layers.Projection` (a 1x1 ``QuantConv2D`` on the latent seen as a 1x1
  image, which LCE binarizes where it would leave a binary ``Dense`` float) with target
  ``(1, 1, units)``, followed by a ``Reshape`` back to ``(units,)`` so that the layers
  after it (a batch norm over the units, a ``Reshape`` to the first feature map) see
  exactly what they saw;
* with the ``xnor`` scheme a binary layer's inputs are signs, and ``sign(relu(x))`` is
  +1 everywhere: a ``ReLU`` whose only consumers are binary layers becomes a linear
  activation (of the same name), so the binary layer reads the sign of the batch-norm
  output, as in the built-in generators. A ``LeakyReLU`` keeps the sign and stays.

Layers the plan binarizes but that have no binary form (``phase_plan`` refuses them, a
``Dense`` with a bias or an activation) stay float; the report says why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.analysis import LayerDoR, analyze
from pbgan.layers import PhaseConv2DTranspose, Projection
from pbgan.markdown import text_table
from pbgan.phase import phase_plan
from pbgan.settings import DEFAULT_SCHEME, get_scheme, get_setting
from pbgan.transfer import copy_into_phase

import tensorflow as tf

__all__ = ["BinarizeError", "BinarizeReport", "LayerPlan", "binarize_model"]


class BinarizeError(ValueError):
    """A generator or a plan that cannot be binarized; the message names the fix."""


@dataclasses.dataclass(frozen=True)
class LayerPlan:
    """One row of the plan: the analysis row, what the plan asks, and what was done."""

    row: LayerDoR
    planned: bool  # the plan binarizes it
    replaced: bool  # it was replaced by its binary form
    note: str  # what it became, or why it stays float
    phase_convs: int = 0  # convolutions of its binary form (each one LceBconv2d with xnor)


@dataclasses.dataclass(frozen=True)
class BinarizeReport:
    """What :func:`binarize_model` planned and did."""

    setting: str  # the setting, or "layers" for an explicit list
    scheme: str
    layers: list[LayerPlan]
    linearized: list[str]  # ReLUs turned linear before binary (xnor) layers

    @property
    def replaced(self) -> list[str]:
        return [p.row.layer for p in self.layers if p.replaced]

    @property
    def expected_bconvs(self) -> int:
        """``LceBconv2d`` operators the converted student must have (0 unless xnor)."""
        if not get_scheme(self.scheme).deploys_binary:
            return 0
        return sum(p.phase_convs for p in self.layers if p.replaced)

    def to_dict(self) -> dict:
        return {
            "setting": self.setting,
            "scheme": self.scheme,
            "layers": [
                {**p.row.to_dict(), "planned": p.planned, "replaced": p.replaced, "note": p.note}
                for p in self.layers
            ],
            "linearized": self.linearized,
            "expected_bconvs": self.expected_bconvs,
        }

    def format(self) -> str:
        """The analyze table with what the transform did to each layer."""
        header = ["layer", "kind", "c_in", "h_in", "w_in", "DoR", "plan", "done"]
        rows = [
            [
                p.row.layer,
                p.row.kind,
                p.row.c_in,
                p.row.h_in,
                p.row.w_in,
                p.row.dor,
                "binarize" if p.planned else "keep float",
                p.note,
            ]
            for p in self.layers
        ]
        lines = [text_table(header, rows)]
        which = ", ".join(self.replaced) or "nothing"
        lines.append(
            f"\nreplaced {len(self.replaced)} of {len(self.layers)} layers ({which}) with "
            f"{self.scheme} binary layers; {self.expected_bconvs} LceBconv2d expected after "
            "conversion"
        )
        if self.linearized:
            lines.append(
                f"made linear (sign(relu(x)) is +1 everywhere): {', '.join(self.linearized)}"
            )
        return "\n".join(lines)


def _plan(rows: list[LayerDoR], setting: str, layers: Sequence[str] | None) -> list[bool]:
    if layers is not None:
        return [r.layer in layers for r in rows]
    projection = rows[0].dor if rows[0].kind == "projection" else None
    deconvs = [r.dor for r in rows[1:]] if projection is not None else [r.dor for r in rows]
    try:
        plan = get_setting(setting).plan([projection, *deconvs], warn=False)
    except ValueError as err:
        raise BinarizeError(str(err)) from err
    return plan if projection is not None else plan[1:]


def _check_names(model: tf.keras.Model, rows: list[LayerDoR], layers: Sequence[str]) -> None:
    known = [r.layer for r in rows]
    for name in layers:
        if name in known:
            continue
        present = any(layer.name == name for layer in model.layers)
        what = "is not a deconvolution or projection" if present else "is not a layer of the model"
        raise BinarizeError(f"--layers {name} {what}: choose from {', '.join(known)}")


def _dense_misfit(layer: tf.keras.layers.Layer) -> str | None:
    """Why a ``Dense`` projection has no binary :class:`Projection` form (None: it has)."""
    if layer.use_bias:
        return "has a bias, which Projection has not (a bias before batch norm is redundant)"
    if tf.keras.activations.serialize(layer.activation) != "linear":
        return "has an activation inside; Projection has none"
    return None


def _is_relu(layer: tf.keras.layers.Layer) -> bool:
    if isinstance(layer, tf.keras.layers.ReLU):
        config = layer.get_config()
        return not config.get("max_value") and not config.get("negative_slope")
    return (
        isinstance(layer, tf.keras.layers.Activation)
        and tf.keras.activations.serialize(layer.activation) == "relu"
    )


def _consumers(model: tf.keras.Model) -> dict[str, list[tf.keras.layers.Layer]]:
    """Layers that read each layer's output, by layer name."""
    found: dict[str, list] = {}
    for nodes in model._nodes_by_depth.values():  # noqa: SLF001  (Keras' graph; no public view)
        for node in nodes:
            for inbound in tf.nest.flatten(node.inbound_layers):
                found.setdefault(inbound.name, []).append(node.outbound_layer)
    return found


def _copy(layer: tf.keras.layers.Layer) -> tf.keras.layers.Layer:
    return layer.__class__.from_config(layer.get_config())


def binarize_model(
    model: tf.keras.Model,
    setting: str = "auto",
    scheme: str = DEFAULT_SCHEME,
    layers: Sequence[str] | None = None,
    *,
    binary: bool = True,
) -> tuple[tf.keras.Model, BinarizeReport]:
    """``(student, report)``: ``model`` with the plan's layers in binary form.

    ``setting`` (``auto``: every layer with DoR >= 0) picks the layers, or ``layers``
    names them exactly. ``binary=False`` makes the same rewrite with float phase layers
    (and no ReLU made linear): the student then computes what ``model`` computes, which
    checks the transform. Example::

        student, report = binarize_model(tf.keras.models.load_model("gen.keras"))
        print(report.format())
        student.save("student.keras")
    """
    scheme = get_scheme(scheme).name
    rows = analyze(model)
    if any(r.binarized for r in rows):
        raise BinarizeError(
            f"{model.name} already has binary layers: pass its float original (pbgan "
            "convert takes it as it is)"
        )
    if layers is not None:
        layers = list(layers)
        _check_names(model, rows, layers)
    plan = _plan(rows, setting, layers)
    top = {layer.name: layer for layer in model.layers}
    consumers = _consumers(model)
    plans, chosen = [], {}
    for row, planned in zip(rows, plan, strict=True):
        layer = top.get(row.layer)
        note, convs = "", 0
        if not planned:
            note = "float (DoR < 0)" if row.dor < 0 and layers is None else "float"
        elif layer is None:
            note = "float: inside a nested model (binarize that model itself)"
        elif isinstance(layer, tf.keras.layers.Dense):
            misfit = _dense_misfit(layer)
            note = f"float: {layer.name} {misfit}" if misfit else "Projection (1x1 conv)"
            convs = 0 if misfit else 1
        elif not (ok := phase_plan(layer)).ok:
            note = f"float: {ok.reason}"
        else:
            after = consumers.get(layer.name, [])
            scaled = binary and not all(
                isinstance(c, tf.keras.layers.BatchNormalization) for c in after
            )
            new = PhaseConv2DTranspose.from_transpose(
                layer, binary=binary, scheme=scheme, use_scale=scaled
            )
            convs = new.converted_convolutions(layer.input_shape)
            note = f"PhaseConv2DTranspose, {convs} phase conv(s)" + (", scaled" if scaled else "")
            chosen[layer.name] = new
        if convs and layer.name not in chosen:  # the Dense projection
            chosen[layer.name] = Projection(
                (1, 1, layer.units), binary=binary, scheme=scheme, name=layer.name
            )
        plans.append(LayerPlan(row, planned, bool(convs), note, convs))

    binary_inputs = binary and get_scheme(scheme).binary_inputs
    linearized = [
        name
        for name, layer in top.items()
        if binary_inputs
        and _is_relu(layer)
        and consumers.get(name)
        and all(c.name in chosen for c in consumers[name])
    ]

    def make(layer: tf.keras.layers.Layer) -> list[tf.keras.layers.Layer]:
        if layer.name in chosen:
            new = chosen[layer.name]
            if isinstance(new, Projection):
                return [new, tf.keras.layers.Reshape((layer.units,), name=f"{layer.name}_flat")]
            return [new]
        if layer.name in linearized:
            return [tf.keras.layers.Activation("linear", name=layer.name)]
        return [_copy(layer)]

    student = _rebuild(model, make)
    for layer in model.layers:
        if not layer.weights:
            continue
        new = student.get_layer(layer.name)
        if isinstance(new, PhaseConv2DTranspose):
            copy_into_phase(new, layer)
        elif isinstance(new, Projection):
            new.conv.kernel.assign(layer.kernel[None, None])
        else:
            new.set_weights(layer.get_weights())
    name = "layers" if layers is not None else get_setting(setting).name
    return student, BinarizeReport(name, scheme, plans, linearized)


def _rebuild(model: tf.keras.Model, make) -> tf.keras.Model:
    """``model``'s graph with every layer ``L`` replaced by the chain ``make(L)``."""
    if isinstance(model, tf.keras.Sequential):
        new = [layer for old in model.layers for layer in make(old)]
        return tf.keras.Sequential([tf.keras.Input(model.input_shape[1:]), *new], name=model.name)
    made: dict[str, list] = {}
    tensors: dict[int, object] = {}
    inputs = []
    for old, name in zip(model.inputs, model.input_names, strict=True):
        new = tf.keras.Input(old.shape[1:], dtype=old.dtype, name=name)
        tensors[id(old)] = new
        inputs.append(new)
    for depth in sorted(model._nodes_by_depth, reverse=True):  # noqa: SLF001  (inputs first)
        for node in model._nodes_by_depth[depth]:  # noqa: SLF001
            layer = node.outbound_layer
            if isinstance(layer, tf.keras.layers.InputLayer):
                continue
            chain = made.setdefault(layer.name, make(layer))  # a shared layer stays shared
            args, kwargs = tf.nest.map_structure(
                lambda t: tensors.get(id(t), t), (node.call_args, node.call_kwargs)
            )
            out = chain[0](*args, **kwargs)
            for extra in chain[1:]:
                out = extra(out)
            for old, new in zip(tf.nest.flatten(node.outputs), tf.nest.flatten(out), strict=True):
                tensors[id(old)] = new
    outputs = [tensors[id(t)] for t in model.outputs]
    return tf.keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=model.name,
    )
