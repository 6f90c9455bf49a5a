"""Assets for ``android_demo/``: the model, its facts, fixed latents and reference outputs.

``android_assets(source, out)`` writes what the app ships in ``app/src/main/assets``:

* ``model.tflite`` — the converted generator (a ``.tflite`` is copied; a run directory
  or ``.keras`` file is converted and parity-checked by ``convert_generator``);
* ``model.properties`` — shapes, latent size, setting, scheme and the phone-vs-workstation
  parity rule (tolerance, max mismatch fraction), in ``java.util.Properties`` syntax;
* ``latents.bin`` — ``LATENTS x z`` float32 little-endian from a fixed seed;
* ``reference.bin`` — the LCE interpreter's outputs for those latents, float32
  little-endian NHWC (one batch-1 inference per latent, as the app runs them);
* ``reference_pixels.bin`` — ``plots.to_uint8(reference)`` as uint8 RGB, the pixels
  ``pbgan sample`` would write; the Java core must reproduce them exactly.

The app compares its own outputs with ``reference.bin`` under that parity
rule, so "the phone computes the generator" is checked on the phone. Heavy imports
(TensorFlow, LCE) happen inside the functions: ``pbgan --help`` loads this module.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from pbgan.cli_errors import one_line_errors

import click
import numpy as np

__all__ = ["LATENTS", "SEED", "AndroidAssets", "android_assets", "properties_text"]

LATENTS = 16
SEED = 0
FILES = ("model.tflite", "model.properties", "latents.bin", "reference.bin", "reference_pixels.bin")


@dataclasses.dataclass
class AndroidAssets:
    folder: Path
    properties: dict[str, Any]
    latents: np.ndarray  # (LATENTS, z) float32
    reference: np.ndarray  # (LATENTS, h, w, 3) float32
    pixels: np.ndarray  # (LATENTS, h, w, 3) uint8


def _escape(text: str, *, key: bool) -> str:
    """``java.util.Properties.load`` escaping (ISO 8859-1 text, ``\\uXXXX`` beyond)."""
    out = []
    for i, ch in enumerate(text):
        if ch in "\\=:#!":
            out.append("\\" + ch)
        elif ch == " " and (key or i == 0):
            out.append("\\ ")
        elif ch in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[ch])
        elif not 0x20 <= ord(ch) < 0x7F:
            out.extend(f"\\u{unit:04x}" for unit in _utf16_units(ch))
        else:
            out.append(ch)
    return "".join(out)


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def properties_text(values: dict[str, Any]) -> str:
    """``values`` as a ``.properties`` file; floats in Python's shortest round-trip form."""
    lines = ["# written by `pbgan android-assets`; read with java.util.Properties"]
    for key, value in values.items():
        text = repr(value) if isinstance(value, float) else str(value)
        lines.append(f"{_escape(key, key=True)}={_escape(text, key=False)}")
    return "\n".join(lines) + "\n"


def _shape(values: tuple[int, ...]) -> str:
    return ",".join(str(int(v)) for v in values)


def _check_generator(info: Any, source: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The (input, output) shapes of a batch-1 latent -> RGB image flatbuffer, or refuse."""
    ins, outs = info.inputs, info.outputs
    ok = (
        len(ins) == 1
        and len(outs) == 1
        and ins[0].dtype == "float32"
        and outs[0].dtype == "float32"
        and len(ins[0].shape) == 2
        and len(outs[0].shape) == 4
        and ins[0].shape[0] == 1
        and outs[0].shape[0] == 1
        and outs[0].shape[-1] == 3
    )
    if not ok:
        got = ", ".join(f"{t.dtype}{list(t.shape)}" for t in ins) or "none"
        put = ", ".join(f"{t.dtype}{list(t.shape)}" for t in outs) or "none"
        raise ValueError(
            f"{source} is not a generator (inputs {got}, outputs {put}; want float32 [1, z] "
            "-> float32 [1, h, w, 3]): pass a generator run, .keras or converted .tflite"
        )
    return tuple(ins[0].shape), tuple(outs[0].shape)


def _from_tflite(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The flatbuffer and what its ``pbgan convert`` manifest (``X.json``) says of it."""
    manifest_path = path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return path.read_bytes(), manifest


def _convert(source: str, setting: str | None, scheme: str | None) -> tuple[bytes, dict]:
    from pbgan.convert import convert_generator, load_generator_source

    model, config = load_generator_source(source)
    chosen = setting or config.get("setting")
    if chosen is None:
        raise ValueError(f"{source} records no setting: pass --setting (e.g. --setting auto)")
    if setting and config.get("setting") not in (None, setting):
        raise ValueError(f"{source} was trained with --setting {config['setting']}: pass that")
    result = convert_generator(
        model, setting=chosen, scheme=scheme or config.get("scheme"), source=str(source)
    )
    return result.flatbuffer, result.manifest


def android_assets(
    source: str | os.PathLike,
    out: str | os.PathLike,
    *,
    setting: str | None = None,
    scheme: str | None = None,
    seed: int = SEED,
    n: int = LATENTS,
) -> AndroidAssets:
    """Write the app's assets for ``source`` (run directory, ``.keras`` or ``.tflite``).

    Example::

        assets = android_assets("runs/demo/auto", "android_demo/app/src/main/assets")
        assets.properties["parity.tolerance"]  # the phone-vs-workstation rule, for the app
    """
    from pbgan.convert.core import DEFAULT_PARITY_TOLERANCE, MAX_MISMATCH_FRACTION
    from pbgan.interpreters import exact_config, lce_interpreter, predict_rows
    from pbgan.io import atomic_write_bytes
    from pbgan.plots import to_uint8
    from pbgan.tflite_graph import read_flatbuffer

    path = Path(source)
    if not path.exists():
        raise ValueError(f"{path} does not exist: pass a run directory, .keras or .tflite")
    if path.suffix == ".tflite":
        flatbuffer, manifest = _from_tflite(path)
    else:
        flatbuffer, manifest = _convert(str(path), setting, scheme)
    info = read_flatbuffer(flatbuffer)
    in_shape, out_shape = _check_generator(info, str(path))
    z_dim = in_shape[1]

    latents = np.random.default_rng(seed).normal(size=(n, z_dim)).astype("<f4")
    interpreter = lce_interpreter(flatbuffer, config=exact_config(info.has_lce_ops))
    reference = predict_rows(interpreter, latents).astype("<f4").reshape((n, *out_shape[1:]))
    pixels = to_uint8(reference)

    properties = {
        "input.shape": _shape(in_shape),
        "output.shape": _shape(out_shape),
        "latent.size": z_dim,
        "latents.count": n,
        "latents.seed": seed,
        "setting": manifest.get("setting", setting or "unknown"),
        "scheme": manifest.get("scheme", scheme or "unknown"),
        # The phone's rule, not the converter's: another CPU's float kernels round
        # differently from this machine's, so the app allows what convert does not.
        "parity.tolerance": DEFAULT_PARITY_TOLERANCE,
        "parity.max_mismatch_fraction": MAX_MISMATCH_FRACTION,
        "model.bytes": len(flatbuffer),
        "has_lce_ops": str(info.has_lce_ops).lower(),
        "reference.config": exact_config(info.has_lce_ops).name,
        "source": str(path),
    }
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "model.tflite", flatbuffer)
    atomic_write_bytes(folder / "model.properties", properties_text(properties).encode("ascii"))
    atomic_write_bytes(folder / "latents.bin", latents.tobytes())
    atomic_write_bytes(folder / "reference.bin", reference.tobytes())
    atomic_write_bytes(folder / "reference_pixels.bin", pixels.tobytes())
    return AndroidAssets(folder, properties, latents, reference, pixels)


@click.command("android-assets")
@click.argument("source", type=click.Path(exists=True))
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False))
@click.option("--setting", default=None, help="For a run/.keras without a recorded setting.")
@click.option("--scheme", default=None, help="Default: the source's own.")
@one_line_errors(ValueError, OSError)
def android_assets_command(source: str, out: str, setting: str | None, scheme: str | None) -> None:
    """Write android_demo's assets for SOURCE into OUT.

    SOURCE is a run directory, a generator .keras (converted and parity-checked here) or a
    converted .tflite. OUT gets model.tflite, model.properties, latents.bin, reference.bin
    (LCE interpreter outputs) and reference_pixels.bin (what `pbgan sample` would draw).
    """
    assets = android_assets(source, out, setting=setting, scheme=scheme)
    p = assets.properties
    click.echo(
        f"wrote {', '.join(FILES)} to {assets.folder}: {p['latents.count']} latents of size "
        f"{p['latent.size']} -> {p['output.shape']}, setting {p['setting']}, scheme {p['scheme']}"
    )
