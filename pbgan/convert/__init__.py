"""LCE conversion with graph checks, a parity check and a manifest (``core``).

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

from pbgan.lazy import lazy_exports

__all__ = [
    "DEFAULT_PARITY_TOLERANCE",
    "MAX_MISMATCH_FRACTION",
    "Conversion",
    "ConversionError",
    "LayerReport",
    "check_graph",
    "check_output",
    "convert_generator",
    "infer_scheme",
    "load_generator_source",
    "parity_error",
    "write_conversion",
]


__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "core"))
