"""LCE conversion with graph checks (``core``), a parity check (``parity``) and a manifest.

Names are imported on first use, so ``pbgan --help`` does not load TensorFlow.
"""

from pbgan.lazy import lazy_exports

_CORE = [
    "DEFAULT_PARITY_TOLERANCE",
    "MAX_MISMATCH_FRACTION",
    "Conversion",
    "LayerReport",
    "check_graph",
    "check_output",
    "convert_generator",
    "infer_scheme",
    "load_generator_source",
    "write_conversion",
]
_PARITY = [
    "BINARY_RULE",
    "FLOAT_RULE",
    "PARITY_LATENTS",
    "ConversionError",
    "ParityFigures",
    "ParityRule",
    "check_parity",
    "fixed_latents",
    "flatbuffer_outputs",
    "parity_figures",
]
__all__ = sorted(_CORE + _PARITY)


__getattr__ = lazy_exports(
    __name__, {**dict.fromkeys(_CORE, "core"), **dict.fromkeys(_PARITY, "parity")}
)
