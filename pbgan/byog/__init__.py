"""Bring your own generator: binarize a user's Keras generator, then distil it.

``binarize`` turns a float generator into a partially binarized student (a model to
model transform); ``distill`` trains that student toward the float teacher from latents
alone. Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

from pbgan.lazy import lazy_exports

_BINARIZE = ["BinarizeError", "BinarizeReport", "LayerPlan", "binarize_model"]
_DISTILL = ["DistillConfig", "DistillResult", "distill"]
__all__ = sorted(_BINARIZE + _DISTILL)

__getattr__ = lazy_exports(
    __name__, {**dict.fromkeys(_BINARIZE, "binarize"), **dict.fromkeys(_DISTILL, "distill")}
)
