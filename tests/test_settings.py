import warnings

from pbgan.models import generator_dors
from pbgan.settings import SETTINGS, NegativeDoRWarning, get_setting

import pytest

DCGAN64_DORS = generator_dors(64)

EXPECTED_DECONVS = {
    "A": [],
    "B": [1],
    "C": [2],
    "D": [3],
    "E": [4],
    "F": [1, 2, 3],
    "G": [1, 2, 3, 4],
    "H": [1, 2, 3],
}


@pytest.mark.parametrize("name", list(EXPECTED_DECONVS))
def test_fixed_settings_binarize_paper_table2_layers(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegativeDoRWarning)
        plan = get_setting(name).plan(DCGAN64_DORS)
    assert plan[0] is False  # the paper never binarizes the projection
    assert [i for i in range(1, 5) if plan[i]] == EXPECTED_DECONVS[name]


def test_only_h_and_auto_binarize_the_discriminator():
    assert {n for n, s in SETTINGS.items() if s.binary_discriminator} == {"H", "auto"}


def test_auto_plan_binarizes_only_nonnegative_dor():
    dors = [99, 1008, 448, 0, -896]
    assert get_setting("auto").plan(dors) == [True, True, True, True, False]
    assert get_setting("auto").plan([5, -1, 3, -7, 0]) == [True, False, True, False, True]


@pytest.mark.parametrize("name", ["E", "G"])
def test_settings_binarizing_negative_dor_warn_loudly(name):
    with pytest.warns(NegativeDoRWarning, match="deconv4.*-896"):
        get_setting(name).plan(DCGAN64_DORS)


@pytest.mark.parametrize("name", ["A", "B", "C", "D", "F", "H", "auto"])
def test_settings_within_nonnegative_dor_do_not_warn(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NegativeDoRWarning)
        get_setting(name).plan(DCGAN64_DORS)


def test_setting_lookup_is_case_insensitive_and_rejects_unknown_names():
    assert get_setting("f") is SETTINGS["F"]
    assert get_setting("AUTO") is SETTINGS["auto"]
    with pytest.raises(ValueError, match="choose one of A, B"):
        get_setting("Z")


def test_setting_naming_a_missing_layer_is_an_error():
    with pytest.raises(ValueError, match="has only 2"):
        get_setting("D").plan([9, 5, 5])


def _choices(command: str, option: str) -> list[str]:
    from pbgan.cli import main

    import click

    ctx = click.Context(main)
    param = next(p for p in main.get_command(ctx, command).params if p.name == option)
    return list(param.type.choices)


@pytest.mark.parametrize(
    ("command", "option", "registry"),
    [
        ("train", "setting", "setting_names"),
        ("convert", "setting", "setting_names"),
        ("train", "scheme", "scheme_names"),
        ("convert", "scheme", "scheme_names"),
        ("train", "architecture", "architecture_names"),
        ("convert", "arch", "architecture_names"),
    ],
)
def test_cli_choices_are_read_from_the_registries(command, option, registry):
    import pbgan.settings

    assert _choices(command, option) == getattr(pbgan.settings, registry)()


def test_unknown_scheme_and_architecture_name_the_choices():
    from pbgan.settings import get_scheme, resolve_architecture

    with pytest.raises(ValueError, match="choose one of xnor, bwn"):
        get_scheme("ternary")
    with pytest.raises(ValueError, match="dcgan32, dcgan64, dcgan128"):
        resolve_architecture("dcgan256")


def test_the_command_list_loads_no_tensorflow():
    """`pbgan --help` must answer at once: building the command list imports no TensorFlow."""
    import subprocess
    import sys

    code = "import sys, pbgan.cli; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
