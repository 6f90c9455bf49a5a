"""Partial binarization against the peers a user would pick instead, in one run.

    python benchmarks/peers.py [--out benchmarks/results/peers] [--runs 100] [--threads 1,2]
    python benchmarks/peers.py --quick --out /tmp/peers     # smoke check, a few minutes

Two tables, never mixed, so no model's quality sits beside another model's speed:

* **Speed and size** — dcgan64 at full width, random init (seed 0), batch 1, as in
  BENCHMARKS.md: float A (LCE conversion), A with TFLite dynamic-range quantization, A
  with TFLite full-integer int8 (float in/out), xnor F, xnor auto, and xnor auto with its
  float layers int8 (when :mod:`pbgan.convert.quantize` supports it). Every model runs
  with every interpreter configuration that can load it (`pbgan bench`'s harness,
  :func:`pbgan.runtime.compare.local_rows`), at each thread count; the baseline is the
  fastest float configuration of float A at the same thread count. Peak RSS (fresh
  process, fastest configuration) unless ``--no-memory``.
* **Quality** — the trained float generator dcgan32 width 0.25, seed 0, 1,800 steps
  (``docs/results/levers_dcgan32_w025/generators/A_seed0.keras``), as Keras, as its
  float flatbuffer and quantized (dynamic, int8); SWD x1e3 and MS-SSIM against the same
  real images `pbgan evaluate` uses (built-in faces, ``--swd-n`` per set, seed 0), each
  flatbuffer run batch 1 in LCE's interpreter as `pbgan evaluate` runs it. With the
  levers' best deployable generator (``best_seed0.keras``, xnor auto) when present.

Writes ``peers.json`` and ``peers.md`` under ``--out``. Timings depend on load: quote only
figures taken on an idle machine, and ratios from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pbgan  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from pbgan.machine import busy_cores, load_average

ROOT = Path(__file__).resolve().parent.parent
GENERATORS = ROOT / "docs/results/levers_dcgan32_w025/generators"
TRAINED_A = GENERATORS / "A_seed0.keras"
TRAINED_BEST = GENERATORS / "best_seed0.keras"
BASELINE = "A float"
# label: (setting, quantize); quantize None = LCE conversion with its float parity rule.
SPEED_MODELS: dict[str, tuple[str, str | None]] = {
    BASELINE: ("A", None),
    "A dynamic-range": ("A", "dynamic"),
    "A int8": ("A", "int8"),
    "xnor F": ("F", None),
    "xnor auto": ("auto", None),
    "xnor auto + int8": ("auto", "int8"),
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _convert(gen: Any, setting: str, quantize: str | None, source: str) -> Any:
    """A checked conversion, or ``None`` when this combination is not supported."""
    from pbgan.convert import ConversionError, convert_generator
    from pbgan.convert.quantize import quantize_generator

    if quantize is None:
        return convert_generator(gen, setting=setting, source=source)
    try:
        return quantize_generator(gen, mode=quantize, setting=setting, source=source)
    except ConversionError as err:
        progress(f"skipping {setting} + {quantize}: {err}")
        return None


def convert_speed_models(directory: Path) -> dict[str, dict[str, Any]]:
    """dcgan64 full width, random init (seed 0): every peer written as a .tflite."""
    from pbgan.convert import write_conversion
    from pbgan.models import build_generator
    from pbgan.settings import NegativeDoRWarning

    import tensorflow as tf

    built: dict[str, Any] = {}
    out = {}
    for label, (setting, quantize) in SPEED_MODELS.items():
        if setting not in built:
            tf.keras.utils.set_random_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NegativeDoRWarning)
                built[setting] = build_generator(
                    resolution=64, width=1.0, setting=setting, scheme="xnor"
                )
        progress(f"converting {label} ...")
        result = _convert(built[setting], setting, quantize, "dcgan64 width 1 random init seed 0")
        if result is None:
            out[label] = {"supported": False}
            continue
        path = write_conversion(result, directory / f"{label.replace(' ', '_')}.tflite")[0]
        out[label] = {"supported": True, "path": path, "manifest": result.manifest}
    return out


def speed_table(
    models: dict[str, dict[str, Any]], *, threads: list[int], runs: int, warmup: int, memory: bool
) -> dict[str, Any]:
    from pbgan.runtime.compare import local_rows
    from pbgan.runtime.report import summarize
    from pbgan.tflite_graph import read_flatbuffer_file

    entries = [
        (m["path"], label, read_flatbuffer_file(m["path"]), None)
        for label, m in models.items()
        if m["supported"]
    ]
    rows = local_rows(entries, threads=threads, runs=runs, warmup=warmup, memory=memory)
    return summarize(rows, BASELINE)


def quality_table(n: int, seed: int, directory: Path) -> list[dict[str, Any]]:
    """SWD and MS-SSIM of the trained dcgan32 w0.25 generators and their conversions."""
    from pbgan.analysis import load_keras_model
    from pbgan.convert import write_conversion
    from pbgan.metrics.evaluate import (
        generated_quality,
        load_generator,
        load_real_sets,
        noise_floor,
    )

    sources: list[tuple[str, Path, str, str | None]] = []  # label, keras, setting, quantize
    if TRAINED_A.is_file():
        sources += [
            ("A float (Keras)", TRAINED_A, "A", "keras"),
            ("A float", TRAINED_A, "A", None),
            ("A dynamic-range", TRAINED_A, "A", "dynamic"),
            ("A int8", TRAINED_A, "A", "int8"),
        ]
    if TRAINED_BEST.is_file():
        sources += [
            ("xnor auto (best levers)", TRAINED_BEST, "auto", None),
            ("xnor auto (best levers) + int8", TRAINED_BEST, "auto", "int8"),
        ]
    if not sources:
        progress(f"no trained generators in {GENERATORS}: quality table skipped")
        return []
    progress(f"quality: reading {2 * n} real 32x32 images (synthetic, seed {seed})")
    reals = load_real_sets("synthetic", n, 32, seed)
    floor = noise_floor(reals, seed)
    rows = []
    for label, keras_path, setting, quantize in sources:
        path = keras_path
        manifest: dict[str, Any] = {}
        if quantize != "keras":
            result = _convert(load_keras_model(keras_path), setting, quantize, str(keras_path))
            if result is None:
                rows.append({"model": label, "supported": False})
                continue
            path = write_conversion(result, directory / f"q_{label.replace(' ', '_')}.tflite")[0]
            manifest = result.manifest
        progress(f"quality: generating {n} images with {label}")
        fake = load_generator(path).generate(len(reals.first), seed)
        quality = generated_quality(fake, reals.first, seed)
        rows.append(
            {
                "model": label,
                "supported": True,
                "source": str(keras_path.relative_to(ROOT)),
                "setting": setting,
                "quantize": None if quantize == "keras" else quantize,
                "runs_in": "Keras" if quantize == "keras" else "LCE interpreter, batch 1",
                "size_bytes": manifest.get("size_bytes"),
                "mean_abs_err_vs_keras": manifest.get("parity_mean_abs_err"),
                "max_abs_err_vs_keras": manifest.get("parity_max_abs_err"),
                "swd_x1e3": quality["swd_x1e3"],
                "ms_ssim": quality["ms_ssim_generated"],
            }
        )
    for row in rows:
        row["noise_floor_x1e3"] = floor["noise_floor_x1e3"]["avg"]
        row["ms_ssim_real"] = floor["ms_ssim_real"]
    return rows


def _mb(n: int | None) -> str:
    return "—" if n is None else f"{n / 2**20:.2f} MiB"


def markdown(result: dict[str, Any]) -> str:
    from pbgan.machine import load_sentence, machine_line
    from pbgan.markdown import md_table

    speed = result["speed"]
    lines = [
        "# Peers: partial binarization against TFLite quantization",
        "",
        f"Machine: {machine_line(speed['machine'])}. {load_sentence(**result['load_average'])}",
        f"Command: `{result['command']}`.",
        "",
        "## Speed and size — dcgan64, width 1.0, random init (seed 0), batch 1",
        "",
        "Model per row: architecture dcgan64 at full width; setting and scheme as named "
        "(A = float, F/auto = xnor binary ops where the plan binarizes); quantization "
        "TFLite post-training (dynamic: int8 weights; int8: int8 weights and activations, "
        f"float in/out, calibrated on {result['representative']}). Latency: median of "
        f"{result['runs']} timed runs after {result['warmup']} warm-up runs (p10-p90), "
        "fastest interpreter configuration of each model; speedup against the fastest "
        f"configuration of `{BASELINE}` at the same thread count. Memory: arena est. is "
        "the peak of live activation bytes in execution order (a lower bound on TFLite's "
        "arena); peak RSS is the growth of a fresh process that loads and runs the model "
        "(the harness's own copy of the file excluded); anon RSS is its anonymous part "
        "after the runs (the interpreter's model copy, arena and kernel buffers), the rest "
        "being the runtime library's code pages, the same for every model.",
        "",
    ]
    header = ["model", "threads", "best config", "median ms", "p10-p90 ms", "speedup",
              "flatbuffer", "size x", "arena est.", "peak RSS", "RSS x", "anon RSS",
              "anon x"]  # fmt: skip
    body = [
        [
            r["model"],
            r["threads"],
            r["config"],
            f"{r['median_ms']:.3g}",
            f"{r['p10_ms']:.3g}-{r['p90_ms']:.3g}",
            "—" if r["speedup"] is None else f"{r['speedup']:.2f}x",
            _mb(r["size_bytes"]),
            "—" if r["size_ratio"] is None else f"{r['size_ratio']:.1f}x",
            _mb(r["arena_bytes"]),
            _mb(r["peak_rss_bytes"]),
            "—" if r["rss_ratio"] is None else f"{r['rss_ratio']:.1f}x",
            _mb(r.get("anon_rss_bytes")),
            "—" if r.get("anon_ratio") is None else f"{r['anon_ratio']:.1f}x",
        ]
        for r in sorted(speed["best"], key=lambda r: (r["threads"], r["median_ms"]))
    ]
    lines += [md_table(header, body), ""]
    lines += [f"* {note}" for note in speed.get("notes", [])]
    unsupported = [k for k, v in result["speed_models"].items() if not v["supported"]]
    if unsupported:
        lines.append(f"* Not converted (unsupported): {', '.join(unsupported)}.")
    lines += ["", "Every configuration of every model is in `peers.json` (`speed.rows`).", ""]
    quality = [q for q in result["quality"] if q["supported"]]
    if quality:
        q0 = quality[0]
        lines += [
            "## Quality — trained dcgan32, width 0.25, seed 0, 1,800 steps",
            "",
            "Models per row: the float generator A (`docs/results/levers_dcgan32_w025/"
            "generators/A_seed0.keras`) and its conversions; `best levers` is xnor auto "
            "trained with --init-from A --teacher A --ema 0.995 (`best_seed0.keras`). "
            f"SWD x1e3 (avg of levels 32, 16) on {result['swd_n']} generated vs "
            f"{result['swd_n']} real built-in faces, seed {result['seed']}; real-vs-real "
            f"noise floor {q0['noise_floor_x1e3']:.1f}; MS-SSIM of real images "
            f"{q0['ms_ssim_real']:.3f} (lower = more diverse). Flatbuffers run batch 1 in "
            "LCE's interpreter. No speed here: see the table above for dcgan64.",
            "",
        ]
        header = ["model", "runs in", "SWD x1e3", "levels", "MS-SSIM",
                  "mean abs err vs Keras", "max abs err", "flatbuffer"]  # fmt: skip
        body = [
            [
                q["model"],
                q["runs_in"],
                f"{q['swd_x1e3']['avg']:.1f}",
                ", ".join(f"{k}: {v:.1f}" for k, v in q["swd_x1e3"]["levels"].items()),
                f"{q['ms_ssim']:.3f}",
                "—" if q["mean_abs_err_vs_keras"] is None else f"{q['mean_abs_err_vs_keras']:.2g}",
                "—" if q["max_abs_err_vs_keras"] is None else f"{q['max_abs_err_vs_keras']:.2g}",
                _mb(q["size_bytes"]),
            ]
            for q in quality
        ]
        lines += [md_table(header, body), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/peers")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--swd-n", type=int, default=2048, help="Images per set for SWD.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-memory", action="store_true", help="Skip peak-RSS probes.")
    parser.add_argument("--no-quality", action="store_true", help="Skip the SWD table.")
    parser.add_argument(
        "--quick", action="store_true", help="Smoke check: 5 runs, 1 warm-up, SWD on 256, no RSS."
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.warmup, args.swd_n, args.no_memory = 5, 1, 256, True
    threads = [int(t) for t in args.threads.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from pbgan.convert.quantize import REPRESENTATIVE_LATENTS, REPRESENTATIVE_SEED
    from pbgan.io import atomic_write_json, atomic_write_text

    start, load_before, busy = time.perf_counter(), load_average(), busy_cores()
    with tempfile.TemporaryDirectory() as tmp:
        models = convert_speed_models(Path(tmp))
        speed = speed_table(
            models, threads=threads, runs=args.runs, warmup=args.warmup, memory=not args.no_memory
        )
        quality = [] if args.no_quality else quality_table(args.swd_n, args.seed, Path(tmp))
    result = {
        "command": " ".join(["python benchmarks/peers.py", *(argv or sys.argv[1:])]),
        "quick": args.quick,
        "runs": args.runs,
        "warmup": args.warmup,
        "swd_n": args.swd_n,
        "seed": args.seed,
        "representative": f"{REPRESENTATIVE_LATENTS} N(0,1) latents, seed {REPRESENTATIVE_SEED}",
        "load_average": {"before": load_before, "after": load_average(), "busy": busy},
        "cpu_count": os.cpu_count(),
        "speed_models": {
            label: {
                "supported": m["supported"],
                "setting": SPEED_MODELS[label][0],
                "quantize": SPEED_MODELS[label][1],
                "manifest": {k: v for k, v in m.get("manifest", {}).items() if k != "machine"},
            }
            for label, m in models.items()
        },
        "speed": speed,
        "quality": quality,
        "seconds": round(time.perf_counter() - start, 1),
    }
    atomic_write_json(out / "peers.json", json.loads(json.dumps(result, default=str)))
    atomic_write_text(out / "peers.md", markdown(result))
    progress(f"wrote {out / 'peers.md'} and {out / 'peers.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
