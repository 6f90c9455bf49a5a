"""LCE conversion with graph checks, a parity check and a manifest."""

from pbgan.convert.core import (
    DEFAULT_PARITY_TOLERANCE,
    MAX_MISMATCH_FRACTION,
    Conversion,
    ConversionError,
    LayerReport,
    check_graph,
    convert_generator,
    infer_scheme,
    load_generator_source,
    parity_error,
    write_conversion,
)

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
