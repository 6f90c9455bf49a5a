"""The one place that builds interpreters for a flatbuffer: LCE's and TensorFlow Lite's.

Conversion (parity), evaluation (SWD of a ``.tflite``) and the benchmark harness all run
models through these functions, so every number comes from the same kernels.

LCE's wrapper is loaded from its extension file rather than through the
``larq_compute_engine`` package, whose ``__init__`` imports the converter and all of
TensorFlow: running a binary model then needs neither TensorFlow's start-up time nor its
memory. TensorFlow is imported only for ``tflite-*`` configurations.
"""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "BINARY_CONFIGS",
    "CONFIGS",
    "FLOAT_CONFIGS",
    "InterpreterError",
    "KernelConfig",
    "exact_config",
    "lce_interpreter",
    "lce_wrapper",
    "predict_rows",
    "tflite_interpreter",
]


class InterpreterError(RuntimeError):
    """An interpreter that cannot be built; the message is one line naming the fix."""


@dataclasses.dataclass(frozen=True)
class KernelConfig:
    """One interpreter and its options."""

    name: str
    runtime: str  # "lce" (LCE's interpreter) or "tflite" (tf.lite.Interpreter)
    use_reference_bconv: bool = False
    use_indirect_bgemm: bool = False
    use_xnnpack: bool = False
    description: str = ""

    @property
    def runs_lce_ops(self) -> bool:
        return self.runtime == "lce"


CONFIGS: dict[str, KernelConfig] = {
    c.name: c
    for c in (
        KernelConfig("lce-default", "lce", description="LCE interpreter, default kernels"),
        KernelConfig(
            "lce-indirect-bgemm",
            "lce",
            use_indirect_bgemm=True,
            description="LCE interpreter, indirect BGEMM bconv kernel (one thread per bconv)",
        ),
        KernelConfig(
            "lce-indirect-bgemm-xnnpack",
            "lce",
            use_indirect_bgemm=True,
            use_xnnpack=True,
            description="LCE interpreter, indirect BGEMM bconv kernel, float operators "
            "through the XNNPACK delegate (its own thread pool)",
        ),
        KernelConfig(
            "lce-reference-bconv",
            "lce",
            use_reference_bconv=True,
            description="LCE interpreter, reference bconv kernel",
        ),
        KernelConfig(
            "lce-xnnpack",
            "lce",
            use_xnnpack=True,
            description="LCE interpreter with the XNNPACK delegate",
        ),
        KernelConfig(
            "tflite-builtin",
            "tflite",
            description="tf.lite.Interpreter, builtin kernels without default delegates",
        ),
        KernelConfig(
            "tflite-xnnpack",
            "tflite",
            use_xnnpack=True,
            description="tf.lite.Interpreter, builtin kernels with its default XNNPACK delegate",
        ),
    )
}
BINARY_CONFIGS = (
    "lce-default",
    "lce-indirect-bgemm",
    "lce-indirect-bgemm-xnnpack",
    "lce-reference-bconv",
)
FLOAT_CONFIGS = ("lce-default", "lce-xnnpack", "tflite-builtin", "tflite-xnnpack")


def exact_config(has_lce_ops: bool) -> KernelConfig:
    """The configuration for computing outputs (not for timing).

    Indirect BGEMM computes the same exact popcount as the default bconv kernel and is
    several times faster on x86-64; a float graph runs on LCE's default float kernels.
    """
    return CONFIGS["lce-indirect-bgemm" if has_lce_ops else "lce-default"]


@cache
def lce_wrapper() -> ModuleType:
    """LCE's compiled interpreter module, without importing TensorFlow (module doc)."""
    name = "larq_compute_engine.tflite.python.interpreter_wrapper_lite"
    if name in sys.modules:  # the package was imported already: one copy per process
        return sys.modules[name]
    package = importlib.util.find_spec("larq_compute_engine")
    if package is None or not package.submodule_search_locations:
        raise InterpreterError(
            "larq-compute-engine is not installed; pip install larq-compute-engine==0.16.0"
        )
    folder = Path(package.submodule_search_locations[0]) / "tflite" / "python"
    candidates = sorted(folder.glob("interpreter_wrapper_lite*.so")) + sorted(
        folder.glob("interpreter_wrapper_lite*.pyd")
    )
    if not candidates:
        raise InterpreterError(
            f"LCE interpreter library missing in {folder}; reinstall larq-compute-engine"
        )
    loader = importlib.machinery.ExtensionFileLoader(name, str(candidates[0]))
    spec = importlib.util.spec_from_file_location(name, candidates[0], loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules[name] = module
    return module


def lce_interpreter(model: bytes, *, threads: int = 1, config: str | KernelConfig = "lce-default"):
    """LCE's ``LiteInterpreter``; ``.predict(list_of_batch1_arrays) -> list of arrays``.

    ``threads`` is one count for the whole graph: the wrapper cannot set it per operator.
    LCE's indirect BGEMM kernel never uses the thread pool (it takes no CPU backend
    context), so with ``lce-indirect-bgemm`` extra threads reach only the float operators;
    for a mostly binary graph they buy nothing, and on the 2-core VM of BENCHMARKS.md
    TFLite's built-in pool costs ~2 ms when the final float deconvolution wakes it after
    the binary layers (``benchmarks/profile_threads.py``). With the XNNPACK delegate
    (``lce-indirect-bgemm-xnnpack``) the float operators use XNNPACK's pool instead,
    which does not pay that (``lce_benchmark_model`` applies XNNPACK by default).
    """
    config = CONFIGS[config] if isinstance(config, str) else config
    if not config.runs_lce_ops:
        raise InterpreterError(f"{config.name} is not an LCE configuration")
    return lce_wrapper().LiteInterpreter(
        model,
        max(1, threads),
        config.use_reference_bconv,
        config.use_indirect_bgemm,
        config.use_xnnpack,
    )


def tflite_interpreter(model: bytes, *, threads: int = 1, use_xnnpack: bool = False) -> Any:
    """TensorFlow Lite's own interpreter, tensors allocated."""
    import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)

    from tensorflow.lite.python.interpreter import Interpreter, OpResolverType

    # BUILTIN applies TFLite's default delegate (XNNPACK) to float graphs;
    # BUILTIN_WITHOUT_DEFAULT_DELEGATES keeps TFLite's own kernels.
    resolver = (
        OpResolverType.BUILTIN if use_xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    interpreter = Interpreter(
        model_content=model, num_threads=max(1, threads), experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    return interpreter


def predict_rows(interpreter: Any, x: np.ndarray) -> np.ndarray:
    """Outputs of a one-input, one-output LCE interpreter for each row of ``x``.

    Each row runs as its own batch-1 inference, exactly as the model is deployed.
    """
    outputs = [interpreter.predict([x[i : i + 1]])[0] for i in range(len(x))]
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)
