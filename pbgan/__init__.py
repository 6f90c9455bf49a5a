"""pbgan: partial binarization of deconvolution-based GAN generators.

Importing the package selects Keras 2 (``tf-keras``), which larq needs, before
TensorFlow is first imported; users never have to set ``TF_USE_LEGACY_KERAS``.
TensorFlow itself is imported lazily by the submodules that need it.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow logs harmless CUDA-plugin errors on CPU machines; set it yourself to see them.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"


def stack_versions() -> dict[str, str]:
    """Versions of pbgan and the stack it runs on, for configs, manifests and reports."""
    import larq
    import larq_compute_engine
    import tensorflow as tf

    return {
        "pbgan": __version__,
        "tensorflow": tf.__version__,
        "larq": larq.__version__,
        "larq_compute_engine": larq_compute_engine.__version__,
    }
