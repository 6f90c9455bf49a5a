"""GAN training: the GAN as a keras.Model (``gan``) and resumable runs (``run``).

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

from pbgan.lazy import lazy_exports

__all__ = ["GAN", "TrainConfig", "TrainResult", "train"]


__getattr__ = lazy_exports(__name__, {"GAN": "gan", **dict.fromkeys(__all__[1:], "run")})
