"""GAN training: the GAN as a keras.Model (``gan``) and resumable runs (``run``).

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

import importlib

__all__ = ["GAN", "TrainConfig", "TrainResult", "train"]


def __getattr__(name: str):
    if name in __all__:
        module = "pbgan.train.gan" if name == "GAN" else "pbgan.train.run"
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'pbgan.train' has no attribute {name!r}")
