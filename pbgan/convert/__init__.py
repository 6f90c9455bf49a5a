"""LCE conversion with graph checks, a parity check and a manifest (``core``).

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

import importlib

__all__ = [
    "DEFAULT_PARITY_TOLERANCE",
    "MAX_MISMATCH_FRACTION",
    "Conversion",
    "ConversionError",
    "LayerReport",
    "check_graph",
    "convert_generator",
    "infer_scheme",
    "load_generator_source",
    "parity_error",
    "write_conversion",
]


def __getattr__(name: str):
    if name in __all__:
        return getattr(importlib.import_module("pbgan.convert.core"), name)
    raise AttributeError(f"module 'pbgan.convert' has no attribute {name!r}")
