"""``pbgan convert``."""

from __future__ import annotations

import math

from pbgan.cli_errors import UsageFailure, one_line_errors
from pbgan.cli_options import scheme_option, setting_option
from pbgan.settings import ARCHITECTURES, DEFAULT_SCHEME
from pbgan.tflite_graph import format_bytes

import click


@click.command("convert")
@click.argument("source", required=False)
@setting_option(
    default=None,
    help="The plan the generator must follow. Default: a run's own setting, else the "
    "source as built (binary ops exactly where it has binary layers, e.g. `pbgan binarize`).",
)
@scheme_option(default=None, help="Default: the source's own (xnor for --init random).")
@click.option(
    "--model",
    "arch",
    type=click.Choice(list(ARCHITECTURES)),
    help="Built-in architecture instead of SOURCE.",
)
@click.option("--init", type=click.Choice(["random"]), help="With --model: random weights.")
@click.option("--width", default=1.0, show_default=True, help="With --model: width multiplier.")
@click.option("--z-dim", default=100, show_default=True, help="With --model: latent size.")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--allow-negative-dor", is_flag=True, help="Convert plans that binarize DoR < 0.")
@click.option(
    "--parity-tol",
    default=None,
    type=float,
    help="Per-value error above which an output value differs from Keras "
    "(default 1e-4 for a float graph, which may differ nowhere; 1e-3 for a binary one).",
)
@click.option(
    "--quantize",
    type=click.Choice(["int8", "dynamic"]),
    help="Post-training quantization. int8: int8 weights and activations, float in/out "
    "(--setting A; with auto, xnor: binary layers stay LceBconv2d, the float ones go int8). "
    "dynamic: int8 weights (--setting A).",
)
@one_line_errors(ValueError)
def convert(
    source: str | None,
    setting: str | None,
    scheme: str | None,
    arch: str | None,
    init: str | None,
    width: float,
    z_dim: int,
    out: str,
    allow_negative_dor: bool,
    parity_tol: float | None,
    quantize: str | None,
) -> None:
    """Convert a generator to an LCE flatbuffer OUT.tflite (+ OUT.json manifest).

    SOURCE is a run directory from `pbgan train` or a saved generator (.keras);
    `--model dcgan64 --init random` converts random weights for architecture and
    speed studies. Every conversion is checked: binary operators exactly where the
    plan binarizes, and the flatbuffer agrees with Keras on a fixed latent batch.
    """
    import warnings

    from pbgan.convert import (
        BINARY_RULE,
        FLOAT_RULE,
        check_output,
        convert_generator,
        load_generator_source,
        write_conversion,
    )
    from pbgan.models import build_generator
    from pbgan.settings import NegativeDoRWarning, get_setting

    if parity_tol is not None and not (math.isfinite(parity_tol) and parity_tol >= 0):
        raise UsageFailure(
            f"--parity-tol {parity_tol}: pass a finite tolerance >= 0 (default "
            f"{FLOAT_RULE.tolerance:g} float, {BINARY_RULE.tolerance:g} binary)"
        )
    check_output(out)  # before minutes of conversion, not after
    setting_obj = get_setting(setting) if setting else None
    if (source is None) == (arch is None):
        raise UsageFailure("pass either SOURCE or --model NAME --init random")
    if arch is not None:
        if setting_obj is None:
            raise UsageFailure("--model needs --setting (e.g. --setting auto)")
        if init != "random":
            raise UsageFailure("--model needs --init random (there are no pretrained weights)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NegativeDoRWarning)
            model = build_generator(
                resolution=ARCHITECTURES[arch],
                width=width,
                z_dim=z_dim,
                setting=setting_obj,
                scheme=scheme or DEFAULT_SCHEME,
            )
        description = f"{arch} width {width:g} (random init)"
    else:
        model, config = load_generator_source(source)
        chosen = setting_obj.name if setting_obj else None
        for key, value in (("setting", chosen), ("scheme", scheme)):
            trained = config.get(key)
            if value is not None and trained is not None and trained != value:
                raise UsageFailure(
                    f"{source} was trained with --{key} {trained}: pass --{key} {trained}"
                )
        description = str(source)
        if setting_obj is None and config.get("setting"):
            setting_obj = get_setting(config["setting"])

    if quantize is not None:
        from pbgan.convert.quantize import quantize_generator

        if parity_tol is not None:
            raise UsageFailure("--parity-tol is the float rule: drop it with --quantize")
        if setting_obj is None:
            raise UsageFailure("--quantize needs --setting (e.g. --setting A)")
        result = quantize_generator(
            model, mode=quantize, setting=setting_obj, scheme=scheme, source=description
        )
        _echo_quantized(*write_conversion(result, out), result.manifest)
        return
    result = convert_generator(
        model,
        setting=setting_obj,
        scheme=scheme,
        source=description,
        allow_negative_dor=allow_negative_dor,
        parity_tolerance=parity_tol,
    )
    tflite, manifest_path = write_conversion(result, out)
    m = result.manifest
    click.echo(f"wrote {tflite} ({format_bytes(m['size_bytes'])}) and {manifest_path}")
    click.echo(
        f"setting {m['setting']}, scheme {m['scheme']}: binary weights "
        f"{format_bytes(m['binary_constant_bytes'])}, float weights "
        f"{format_bytes(m['float_constant_bytes'])}; parity ({m['parity_rule']} graph): "
        f"max abs err {m['parity_max_abs_err']:.2g}, {m['parity_mismatch_fraction']:.3%} of "
        f"values > {m['parity_tolerance']:g}, worst row/column/channel "
        f"{m['parity_worst_row_fraction']:.1%}/{m['parity_worst_column_fraction']:.1%}/"
        f"{m['parity_worst_channel_fraction']:.1%}"
    )
    width = max([12] + [len(layer["layer"]) for layer in m["layers"]])  # Keras' long names
    for layer in m["layers"]:
        kind = "binary" if "LceBconv2d" in layer["tflite_ops"] else "float"
        click.echo(
            f"  {layer['layer']:<{width}} DoR {layer['dor']:>6}  {kind:<6} "
            f"{format_bytes(layer['weight_bytes']):>10} weights "
            f"{format_bytes(layer['peak_live_bytes']):>10} live  {' '.join(layer['tflite_ops'])}"
        )
    click.echo(_inference_summary(m))
    if "note" in m:
        click.echo(f"note: {m['note']}")


def _inference_summary(m: dict) -> str:
    """What the inference copy and the operator order did, in one line."""
    parts = [f"{bn} folded into {layer}" for bn, layer in m["folded_batch_norms"].items()]
    parts += [
        f"{tail} fused into {layer} phase by phase" for layer, tail in m["fused_tails"].items()
    ]
    arena = f"activation arena {format_bytes(m['arena_estimate_bytes'])} (estimate"
    if m["arena_estimate_converter_order_bytes"] != m["arena_estimate_bytes"]:
        arena += (
            f"; {format_bytes(m['arena_estimate_converter_order_bytes'])} in the converter's order"
        )
    return f"inference: {'; '.join([*parts, arena + ')'])}"


def _echo_quantized(tflite: object, manifest_path: object, m: dict) -> None:
    click.echo(f"wrote {tflite} ({format_bytes(m['size_bytes'])}) and {manifest_path}")
    click.echo(
        f"setting {m['setting']}, quantize {m['quantize']}: int8 weights "
        f"{format_bytes(m['int8_constant_bytes'])}, float weights "
        f"{format_bytes(m['float_constant_bytes'])}; vs Keras: mean abs err "
        f"{m['parity_mean_abs_err']:.2g}, max {m['parity_max_abs_err']:.2g} "
        f"(refused above mean {m['parity_max_mean_abs_err']:g})"
    )
    for layer in m["layers"]:
        click.echo(
            f"  {layer['layer']:<12} DoR {layer['dor']:>6}  {layer['weight_dtype']:<7}"
            f"{format_bytes(layer['weight_bytes']):>10} weights "
            f"{format_bytes(layer['peak_live_bytes']):>10} live  {' '.join(layer['tflite_ops'])}"
        )
