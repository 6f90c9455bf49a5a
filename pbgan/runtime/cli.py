"""``pbgan bench`` and ``pbgan inspect``: registered by the main ``pbgan`` command group.

Heavy modules are imported inside the commands, so ``pbgan --help`` stays instant.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.runtime.local import BenchError
from pbgan.runtime.remote import RemoteError
from pbgan.tflite_graph import FlatbufferError

import click

__all__ = ["bench", "inspect"]


_one_line_errors = one_line_errors(FlatbufferError, BenchError, RemoteError, ValueError, OSError)


def parse_threads(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise UsageFailure(f"--threads {text!r}: give positive integers, e.g. --threads 1,2,4")
    return list(dict.fromkeys(counts))


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip() for p in text.split(",") if p.strip()]


def _labels(paths: Sequence[Path]) -> dict[Path, str]:
    """File names, or the paths as given where two models share a file name."""
    names = [p.name for p in paths]
    return {p: p.name if names.count(p.name) == 1 else str(p) for p in paths}


def _progress(message: str) -> None:
    click.echo(message, err=True)  # stderr keeps --json output clean


def _check_configs(names: list[str] | None, known: Sequence[str], option: str) -> None:
    for name in names or ():
        if name not in known:
            raise UsageFailure(f"{option}: unknown config {name!r}; choose from {', '.join(known)}")


def _verdicts(summary: dict[str, Any]) -> list[str]:
    lines = []
    for r in summary["best"]:
        if r["is_baseline"]:
            continue
        head = (
            f"{r['model']} [{r['where']}, {r['threads']} thread(s)]: "
            f"{r['config']} {r['median_ms']:.4g} ms"
        )
        if r["speedup"] is None:
            lines.append(head)
            continue
        parts = [
            f"speedup {r['speedup']:.2f}x over the float baseline "
            f"({r['baseline_config']} {r['baseline_ms']:.4g} ms)",
            f"weights {r['weight_ratio']:.1f}x smaller" if r["weight_ratio"] else None,
            f"peak RSS {r['rss_ratio']:.1f}x smaller" if r["rss_ratio"] else None,
            f"anonymous RSS {r['anon_ratio']:.1f}x smaller" if r.get("anon_ratio") else None,
        ]
        lines.append(head + ": " + "; ".join(p for p in parts if p))
    return lines


def _positive_seconds(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value}: pass a number of seconds > 0", ctx, param)
    return value


@click.command("bench")
# Not required=True: `--adb MODEL` hands click's check no models (see _adb_models).
@click.argument("models", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--baseline",
    type=click.Path(path_type=Path),
    help="Float flatbuffer to compare with; timed with every float runtime, fastest wins.",
)
@click.option("--threads", default="1", show_default=True, help="Thread counts, e.g. 1,2,4.")
@click.option("--runs", default=50, show_default=True, type=click.IntRange(1), help="Timed runs.")
@click.option(
    "--warmup", default=5, show_default=True, type=click.IntRange(0), help="Untimed runs."
)
@click.option(
    "--configs",
    help="Comma-separated configurations for MODELS instead of the defaults "
    "(local: lce-default, lce-indirect-bgemm, lce-indirect-bgemm-xnnpack, "
    "lce-reference-bconv, lce-xnnpack, tflite-builtin, tflite-xnnpack; remote: default, "
    "indirect-bgemm, reference-bconv, "
    "xnnpack, no-xnnpack).",
)
@click.option(
    "--memory/--no-memory",
    default=True,
    show_default=True,
    help="Measure the peak RSS of each model's best configuration in a fresh process.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),  # checked by check_writable, naming the fix
    help="Write report.md, report.json and report.png into this folder.",
)
@click.option("--ssh", "ssh_target", metavar="USER@HOST", help="Run on this host over ssh.")
@click.option("--ssh-port", type=click.IntRange(1, 65535), help="ssh port.")
@click.option("--identity", type=click.Path(path_type=Path), help="ssh private key file.")
@click.option(
    "--adb",
    "adb_serial",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[SERIAL]",
    help="Run on an Android device over adb (the only one, or SERIAL).",
)
@click.option(
    "--benchmark-binary",
    type=click.Path(path_type=Path),
    help="lce_benchmark_model built for the device (needed with --ssh / --adb).",
)
@click.option(
    "--timeout",
    default=600.0,
    show_default=True,
    type=float,
    callback=_positive_seconds,
    help="Seconds per remote step (s).",
)
@_one_line_errors
def bench(
    models: tuple[Path, ...],
    baseline: Path | None,
    threads: str,
    runs: int,
    warmup: int,
    configs: str | None,
    memory: bool,
    as_json: bool,
    report_dir: Path | None,
    ssh_target: str | None,
    ssh_port: int | None,
    identity: Path | None,
    adb_serial: str | None,
    benchmark_binary: Path | None,
    timeout: float,
) -> None:
    """Latency and memory of MODEL.tflite files, against a float --baseline.

    Locally, every model runs with every kernel configuration that can load it (LCE's
    bconv kernels for binary graphs; LCE and TensorFlow Lite float runtimes, with and
    without XNNPACK, for float graphs) at each thread count, and the fastest counts.
    With --ssh or --adb the same runs happen on the device through lce_benchmark_model.
    """
    from pbgan.io import check_writable
    from pbgan.runtime import remote
    from pbgan.runtime.compare import local_rows, remote_rows
    from pbgan.runtime.report import summarize, write_report_or_fallback

    models, adb_serial = _adb_models(models, adb_serial)
    threads_list = parse_threads(threads)
    configs_list = _names(configs)
    is_remote = _device(ssh_target, adb_serial, benchmark_binary)
    plan = _plan(models, baseline, configs_list, is_remote=is_remote)
    if report_dir is not None:
        check_writable(report_dir, "--report")  # before the timing, not after it
    if baseline is None:
        _progress(
            f"no --baseline: timing {', '.join(p[1] for p in plan)} without a float "
            "baseline, so no speedups (pass --baseline FLOAT.tflite for them)"
        )
    if ssh_target:
        runner = remote.SshRunner(ssh_target, port=ssh_port, identity=identity, timeout=timeout)
    elif is_remote:
        runner = remote.AdbRunner(adb_serial or None, timeout=timeout)
    if is_remote:
        rows = remote_rows(
            runner, benchmark_binary, plan, threads=threads_list, runs=runs, warmup=warmup
        )
    else:
        rows = local_rows(plan, threads=threads_list, runs=runs, warmup=warmup, memory=memory)

    baseline_label = plan[0][1] if baseline else None
    _emit(summarize(rows, baseline_label), as_json=as_json)  # the results first, whatever follows
    if report_dir is not None:
        written, failure = write_report_or_fallback(rows, baseline_label, report_dir)
        if failure:
            raise UsageFailure(
                f"cannot write the report into {report_dir} ({failure}); it was written to "
                f"{written['markdown'].parent} instead: copy it from there"
            )
        _progress("report: " + ", ".join(str(p) for p in written.values()))


def _adb_models(
    models: tuple[Path, ...], adb_serial: str | None
) -> tuple[tuple[Path, ...], str | None]:
    """``(models, serial)`` with a model click took as ``--adb``'s serial given back.

    ``--adb`` takes an optional value, so ``bench --adb gen.tflite`` reads the model as a
    serial; a serial never names a flatbuffer, so it means the only device.
    """
    if adb_serial and (adb_serial.endswith(".tflite") or Path(adb_serial).is_file()):
        models, adb_serial = (Path(adb_serial), *models), ""
    if not models:
        raise UsageFailure(
            "no MODEL given: pass one or more .tflite files written by `pbgan convert`"
        )
    return models, adb_serial


def _device(ssh_target: str | None, adb_serial: str | None, benchmark_binary: Path | None) -> bool:
    """Validate the device options; True when the runs happen on a device."""
    if ssh_target and adb_serial is not None:
        raise UsageFailure("--ssh and --adb exclude each other; pick one device")
    is_remote = bool(ssh_target) or adb_serial is not None
    if is_remote and benchmark_binary is None:
        raise UsageFailure(
            "--ssh/--adb need --benchmark-binary PATH to lce_benchmark_model built for the device"
        )
    if is_remote and not benchmark_binary.is_file():
        raise UsageFailure(
            f"benchmark binary {benchmark_binary} not found; build lce_benchmark_model "
            "for the device (or take it from the LCE releases)"
        )
    return is_remote


def _plan(
    models: Sequence[Path],
    baseline: Path | None,
    configs: list[str] | None,
    *,
    is_remote: bool,
) -> list[tuple[Path, str, Any, list[str] | None]]:
    """(path, label, info, configs) per model, baseline first; refuses what cannot run.

    The baseline always gets every float configuration (the fair baseline is the fastest
    float runtime); ``configs`` applies to the other models.
    """
    from pbgan.runtime import local, remote
    from pbgan.tflite_graph import read_flatbuffer_file

    known = remote.REMOTE_CONFIGS if is_remote else local.CONFIGS
    _check_configs(configs, list(known), "--configs")
    paths = list(dict.fromkeys([*([baseline] if baseline else []), *models]))
    labels = _labels(paths)
    infos = {p: read_flatbuffer_file(p) for p in paths}
    if baseline is not None and infos[baseline].has_lce_ops:
        raise UsageFailure(
            f"--baseline {baseline} contains LCE ops; pass the float model (setting A)"
        )

    _check_generators(infos)

    def chosen(path: Path) -> list[str] | None:
        info = infos[path]
        if is_remote:
            defaults = (
                remote.REMOTE_BINARY_CONFIGS if info.has_lce_ops else remote.REMOTE_FLOAT_CONFIGS
            )
            floats = remote.REMOTE_FLOAT_CONFIGS
        else:
            defaults, floats = local.default_configs(info), local.FLOAT_CONFIGS
        return list(floats) if path == baseline else list(configs or defaults)

    plan = [(p, labels[p], infos[p], chosen(p)) for p in paths]
    if not is_remote:  # fail before minutes of timing, not in the middle of them
        for _, _, info, names in plan:
            local.resolve_configs(names, info)
    return plan


def _generator_shapes(info: Any) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(input, output)`` shapes when the graph is a generator: (1, z) -> (1, r, r, 3)."""
    if len(info.inputs) != 1 or len(info.outputs) != 1:
        return None
    (z,), (image,) = info.inputs, info.outputs
    if z.dtype != "float32" or len(z.shape) != 2 or z.shape[0] != 1 or z.shape[1] < 1:
        return None
    if len(image.shape) != 4 or image.shape[0] != 1 or image.shape[3] != 3:
        return None
    if image.shape[1] != image.shape[2] or image.shape[1] < 1:
        return None
    return tuple(z.shape), tuple(image.shape)


def _check_generators(infos: dict[Path, Any]) -> None:
    """Refuse to time anything but generators that all draw the same images from the same
    latents: a speedup between different graphs means nothing."""
    first: tuple[Path, Any] | None = None
    for path, info in infos.items():
        shapes = _generator_shapes(info)
        if shapes is None:
            ins = ", ".join(str(t.shape) for t in info.inputs)
            outs = ", ".join(str(t.shape) for t in info.outputs)
            raise UsageFailure(
                f"{path} is not a generator (inputs {ins}, outputs {outs}; expected "
                "(1, z) -> (1, r, r, 3)): pass flatbuffers written by `pbgan convert`"
            )
        if first is None:
            first = (path, shapes)
        elif shapes != first[1]:
            raise UsageFailure(
                f"{path} maps {shapes[0]} to {shapes[1]} but {first[0]} maps {first[1][0]} "
                f"to {first[1][1]}: compare generators of the same --arch and --z-dim"
            )


def _emit(summary: dict[str, Any], *, as_json: bool) -> None:
    from pbgan.runtime.report import format_table, recommendation_lines

    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(format_table(summary["rows"]))
    click.echo("\n* fastest configuration of the model at that thread count")
    verdicts = _verdicts(summary) + [f"note: {n}" for n in summary.get("notes", [])]
    verdicts += [f"run with: {line}" for line in recommendation_lines(summary)]
    if verdicts:
        click.echo("\n" + "\n".join(verdicts))


@click.command("inspect")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def inspect(model: Path, as_json: bool) -> None:
    """Operator histogram and sizes of any TFLite/LCE flatbuffer."""
    _inspect(model, as_json=as_json)


@_one_line_errors
def _inspect(model: Path, *, as_json: bool) -> None:
    from pbgan.tflite_graph import format_summary, read_flatbuffer_file

    info = read_flatbuffer_file(model)
    if as_json:
        click.echo(json.dumps({"model": str(model), **info.to_dict()}, indent=2))
    else:
        click.echo(f"{model}\n")
        click.echo(format_summary(info))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(bench())
