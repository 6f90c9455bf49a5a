"""Evaluation of a generator, shared by ``pbgan evaluate`` and ``pbgan reproduce``.

Evaluation compares ``n`` generated images with ``n`` real ones by SWD (x1e3, per
Laplacian-pyramid level and averaged) and reports two references beside it:

* the **noise floor**: the SWD between two disjoint sets of real images, about what a
  perfect generator would score with this ``n`` and seed. The second set is the next
  ``n`` images of the same seeded order (for the synthetic set, faces with other
  indices, from up to ``max(50000, 2 n)``). A folder holding fewer than ``2 n`` readable
  images is split into two halves of ``m // 2`` images each instead; SWD's sampling noise
  grows as the sets shrink, so such a floor overstates the floor for ``n`` images, and
  the output says so.
* **MS-SSIM diversity** (:func:`pbgan.metrics.ms_ssim_diversity`) of the generated set
  and of the real set: lower is more diverse; a generator far above the real value is
  drawing few distinct images, which SWD can miss.

A generator is read from a run directory (its ``generator.keras``), a saved ``.keras``
generator, or a converted ``.tflite`` flatbuffer run by LCE's interpreter one latent at
a time (batch 1, as deployed), so the quality of the deployed model is measured too.
The same ``--seed`` gives the same latents whatever the source, so a run and its
flatbuffer are compared on identical inputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pbgan.machine import machine_info

import numpy as np
from tqdm import tqdm

__all__ = [
    "EvaluationError",
    "GeneratorSource",
    "RealSets",
    "evaluate_source",
    "format_evaluation",
    "generated_quality",
    "load_generator",
    "load_real_sets",
    "noise_floor",
]

# Images per keras predict() call: bounds the float32 output held at once
# (256 x 64 x 64 x 3 x 4 bytes = 12.6 MB) while keeping batches efficient.
GENERATE_BATCH = 256
MS_SSIM_PAIRS = 500
# Training sees the first 50,000 synthetic faces; evaluation may ask for more, from the
# same procedural distribution.
SYNTHETIC_TRAIN_SIZE = 50_000
_SOURCE_FIX = "pass a run directory, a generator .keras file or a converted .tflite"


class EvaluationError(ValueError):
    """A source or data set that cannot be evaluated; the message names the fix."""


def progress(message: str) -> None:
    """One progress line on stderr (stdout stays clean for tables and --json)."""
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Generators: a Keras model or an LCE flatbuffer behind one interface.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class GeneratorSource:
    """A loaded generator: latents ``(n, z_dim)`` float32 -> images in ``[-1, 1]``."""

    path: Path
    kind: str  # "run", "keras" or "tflite"
    z_dim: int
    resolution: int
    forward: Callable[[np.ndarray], np.ndarray]
    info: dict[str, Any] = dataclasses.field(default_factory=dict)  # setting, scheme, ...

    def latents(self, n: int, seed: int) -> np.ndarray:
        """``n`` standard-normal latents; the same for every source with this ``z_dim``."""
        return np.random.default_rng(seed).standard_normal((n, self.z_dim)).astype(np.float32)

    def generate(
        self, n: int, seed: int, *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """``n`` uint8 images ``(n, r, r, 3)``, generated ``GENERATE_BATCH`` at a time."""
        from pbgan.plots import to_uint8

        z = self.latents(n, seed)
        out = np.empty((n, self.resolution, self.resolution, 3), np.uint8)
        for start in range(0, n, GENERATE_BATCH):
            stop = min(start + GENERATE_BATCH, n)
            out[start:stop] = to_uint8(self.forward(z[start:stop]))
            if on_batch is not None:
                on_batch(stop)
        return out


def _check_image_shape(path: Path, shape: tuple, what: str) -> int:
    """Side length of a ``(batch, r, r, 3)`` output, or a one-line refusal."""
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or not shape[1]:
        raise EvaluationError(
            f"{path} is not a generator ({what} output shape {tuple(shape)} is not a square "
            f"RGB image): {_SOURCE_FIX}"
        )
    return int(shape[1])


def _keras_source(path: Path, kind: str, info: dict) -> GeneratorSource:
    from pbgan.analysis import load_keras_model

    model = load_keras_model(path)
    inputs, output = model.inputs, model.output_shape
    if len(inputs) != 1 or len(model.input_shape) != 2 or isinstance(output, list):
        raise EvaluationError(
            f"{path} is not a generator (input {model.input_shape}, output {output}): "
            "pass a model that maps one latent vector to one image"
        )
    resolution = _check_image_shape(path, output, "its")

    def forward(z: np.ndarray) -> np.ndarray:
        return model.predict(z, batch_size=GENERATE_BATCH, verbose=0)

    return GeneratorSource(path, kind, int(model.input_shape[-1]), resolution, forward, info)


def _tflite_source(path: Path) -> GeneratorSource:
    from pbgan.tflite_graph import read_flatbuffer_file

    # Parse first: LCE's interpreter is native code and must never see garbage bytes.
    info = read_flatbuffer_file(path)
    if len(info.inputs) != 1 or len(info.outputs) != 1 or len(info.inputs[0].shape) != 2:
        raise EvaluationError(
            f"{path} is not a generator flatbuffer (inputs {[t.shape for t in info.inputs]}, "
            f"outputs {[t.shape for t in info.outputs]}): {_SOURCE_FIX}"
        )
    if info.inputs[0].dtype != "float32":
        raise EvaluationError(f"{path} takes {info.inputs[0].dtype} input, not float latents")
    resolution = _check_image_shape(path, info.outputs[0].shape, "its")
    from pbgan.interpreters import exact_config, lce_interpreter, predict_rows

    try:
        interpreter = lce_interpreter(
            path.read_bytes(),
            threads=os.cpu_count() or 1,
            config=exact_config(info.has_lce_ops),
        )
    except Exception as err:  # noqa: BLE001  any interpreter failure means the same here
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise EvaluationError(
            f"LCE's interpreter cannot load {path} ({first}): {_SOURCE_FIX}"
        ) from err

    def forward(z: np.ndarray) -> np.ndarray:
        return predict_rows(interpreter, z)

    manifest = path.with_suffix(".json")
    extra = {}
    if manifest.is_file():
        try:
            saved = json.loads(manifest.read_text())
            extra = {k: saved[k] for k in ("setting", "scheme") if k in saved}
        except (OSError, ValueError):
            extra = {}  # a manifest is a convenience; the flatbuffer alone is enough
    extra["ops"] = dict(sorted(info.op_counts.items()))
    return GeneratorSource(
        path, "tflite", int(info.inputs[0].shape[-1]), resolution, forward, extra
    )


def load_generator(source: str | os.PathLike) -> GeneratorSource:
    """A run directory, a generator ``.keras`` or a ``.tflite``, ready to generate."""
    from pbgan.runs import run_generator

    if not Path(source).exists():
        raise EvaluationError(f"{source} does not exist: {_SOURCE_FIX}")
    path, config = run_generator(source)
    if path != Path(source):
        info = {k: config[k] for k in ("setting", "scheme", "architecture", "data") if k in config}
        return _keras_source(path, "run", info)
    if path.suffix.lower() == ".tflite":
        return _tflite_source(path)
    return _keras_source(path, "keras", {})


# --------------------------------------------------------------------------------------
# Real images and the measurements.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class RealSets:
    """Real images for one evaluation: ``first`` is compared with the generated set;
    ``floor_a`` and ``floor_b`` are the two disjoint sets of the noise floor."""

    first: np.ndarray
    floor_a: np.ndarray
    floor_b: np.ndarray
    note: str | None = None


def load_real_sets(data: str, n: int, size: int, seed: int) -> RealSets:
    """``2 n`` real images in the order fixed by ``seed``, split as :class:`RealSets`.

    With ``m < 2 n`` readable images the comparison set is the first ``min(n, m)`` and the
    noise floor uses the halves ``[:m//2]`` and ``[m//2 : 2 (m//2)]`` (module docstring).
    """
    from pbgan.data import SYNTHETIC, real_images

    num_synthetic = max(SYNTHETIC_TRAIN_SIZE, 2 * n)
    images = real_images(data, 2 * n, size, seed, num_synthetic=num_synthetic)
    m = len(images)
    if m >= 2 * n:
        return RealSets(images[:n], images[:n], images[n : 2 * n])
    if m < 4:
        raise EvaluationError(
            f"{data} holds only {m} readable images: evaluation needs at least 4; pass a "
            "larger image folder"
        )
    half = m // 2
    what = "synthetic set" if data == SYNTHETIC else str(data)
    note = (
        f"{what} holds {m} readable images, fewer than 2 x {n}: the noise floor compares two "
        f"disjoint halves of {half} images each (smaller sets raise SWD's sampling noise, so "
        "this floor is an overestimate for n images)"
    )
    if m < n:
        note += f"; generated images are compared with all {m} real ones"
    return RealSets(images[: min(n, m)], images[:half], images[half : 2 * half], note)


def _swd(a: np.ndarray, b: np.ndarray, seed: int) -> dict[str, Any]:
    from pbgan.metrics.swd import swd

    result = swd(a, b, seed=seed, progress=sys.stderr.isatty())
    return {"levels": {str(k): float(v) for k, v in result["levels"].items()}, "avg": result["avg"]}


def _diversity(images: np.ndarray, seed: int) -> float:
    from pbgan.metrics.diversity import ms_ssim_diversity

    return ms_ssim_diversity(images, pairs=MS_SSIM_PAIRS, seed=seed)


def generated_quality(fake: np.ndarray, real: np.ndarray, seed: int) -> dict[str, Any]:
    """SWD x1e3 of ``fake`` against ``real`` and the MS-SSIM diversity of ``fake``."""
    return {"swd_x1e3": _swd(real, fake, seed), "ms_ssim_generated": _diversity(fake, seed)}


def noise_floor(reals: RealSets, seed: int) -> dict[str, Any]:
    """SWD x1e3 between the two disjoint real sets, and the MS-SSIM of the real set."""
    floor = _swd(reals.floor_a, reals.floor_b, seed)
    floor.update(n=len(reals.floor_a), note=reals.note)
    return {"noise_floor_x1e3": floor, "ms_ssim_real": _diversity(reals.first, seed)}


def evaluate_source(
    source: str | os.PathLike,
    *,
    data: str | None = None,
    n: int = 16384,
    seed: int = 0,
    report: Callable[[str], None] = progress,
) -> dict[str, Any]:
    """Everything ``pbgan evaluate`` prints, as a JSON-ready dict (see module docstring).

    ``data=None`` takes the training data recorded in a run directory.
    """
    if n < 2:
        raise EvaluationError(f"-n {n}: evaluation needs at least 2 images per set")
    if data is not None and not data.strip():
        raise EvaluationError(
            "--data is empty: pass --data synthetic, an image folder, or a CelebA folder or zip"
        )
    start = time.perf_counter()
    gen = load_generator(source)
    data = data or gen.info.get("data")
    if data is None:
        raise EvaluationError(
            f"{source} records no training data: pass --data synthetic or the image folder "
            "it was trained on"
        )
    size = gen.resolution
    if n > 4096:
        report(
            f"evaluate: {n} images per set: SWD over 3 x {n} sets takes many minutes on a "
            "CPU (progress bars show the ETA on a terminal); -n 2048 gives a quick look"
        )
    report(f"evaluate: reading {2 * n} real {size}x{size} images from {data}")
    reals = load_real_sets(data, n, size, seed)
    count = len(reals.first)
    report(f"evaluate: generating {count} images with {gen.path} ({gen.kind})")
    with tqdm(total=count, desc="generate", unit="img", file=sys.stderr, disable=None) as bar:
        fake = gen.generate(count, seed, on_batch=lambda done: bar.update(done - bar.n))
    report("evaluate: SWD generated vs real")
    quality = generated_quality(fake, reals.first, seed)
    report("evaluate: SWD real vs real (noise floor) and MS-SSIM diversity")
    floor = noise_floor(reals, seed)
    return {
        "source": str(source),
        "kind": gen.kind,
        **{k: v for k, v in gen.info.items() if k != "data"},
        "data": str(data),
        "resolution": size,
        "n": count,
        "seed": seed,
        "swd_x1e3": quality["swd_x1e3"],
        "noise_floor_x1e3": floor["noise_floor_x1e3"],
        "ms_ssim": {
            "generated": quality["ms_ssim_generated"],
            "real": floor["ms_ssim_real"],
            "pairs": MS_SSIM_PAIRS,
            "lower_is_more_diverse": True,
        },
        "seconds": round(time.perf_counter() - start, 2),
        "machine": machine_info(threads=os.cpu_count()),
    }


def format_evaluation(result: dict[str, Any]) -> str:
    """Human-readable table of :func:`evaluate_source`'s result."""
    swd, floor = result["swd_x1e3"], result["noise_floor_x1e3"]
    known = ", ".join(f"{k} {result[k]}" for k in ("setting", "scheme") if k in result)
    lines = [
        f"generator   {result['source']} ({result['kind']}{', ' + known if known else ''}), "
        f"{result['resolution']}x{result['resolution']}",
        f"real data   {result['data']}: {result['n']} generated vs {result['n']} real images; "
        f"noise floor {floor['n']} vs {floor['n']} real",
        "",
        f"{'SWD x1e3':<10} {'generated':>10} {'noise floor':>12}",
    ]
    for level, value in swd["levels"].items():
        lines.append(f"{level:<10} {value:>10.2f} {floor['levels'][level]:>12.2f}")
    lines.append(f"{'avg':<10} {swd['avg']:>10.2f} {floor['avg']:>12.2f}")
    ms = result["ms_ssim"]
    lines += [
        "",
        f"MS-SSIM diversity (lower is more diverse): generated {ms['generated']:.4f}, "
        f"real {ms['real']:.4f}",
    ]
    if floor.get("note"):
        lines.append(f"note: {floor['note']}")
    return "\n".join(lines)
