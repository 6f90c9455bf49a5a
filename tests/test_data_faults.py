"""Bad data folders: huge images, nothing readable, wrong paths. Each fails fast, in one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from pbgan import data
from pbgan.cli import main
from pbgan.data import files

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import TINY_RUN
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _big_image(path: Path, side: int) -> Path:
    """A ``side`` x ``side`` gradient (quick to encode), saved by its extension."""
    x = np.linspace(0, 255, side, dtype=np.float32)
    a = np.empty((side, side, 3), np.uint8)
    a[..., 0], a[..., 1], a[..., 2] = x[None, :], x[:, None], 128
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"compress_level": 1} if path.suffix == ".png" else {"quality": 80}
    Image.fromarray(a).save(path, **options)
    return path


def _train_args(data_dir: Path, out: Path) -> list[str]:
    return [
        "train",
        "--data",
        str(data_dir),
        "--out",
        str(out),
        "--setting",
        "A",  # one stage (plain recipe)
        "--arch",
        TINY_RUN["architecture"],
        "--width",
        str(TINY_RUN["width"]),
        "--batch-size",
        str(TINY_RUN["batch_size"]),
        "--epochs",
        "1",
        "--steps-per-epoch",
        str(TINY_RUN["steps_per_epoch"]),
    ]


# --- exit during a large decode -----------------------------------------------------------

EXIT_MID_DECODE = textwrap.dedent(
    """
    import sys
    from pbgan.data import make_dataset
    it = iter(make_dataset(sys.argv[1], size=32, batch_size=2))
    next(it)  # the pipeline goes on decoding in the background while we exit
    print("exiting", flush=True)
    """
)


def test_exit_while_a_large_image_is_decoding_does_not_hang(tmp_path):
    # 5000x5000 PNG (under MAX_DECODE_PIXELS): about a second per decode, so the exit
    # lands in one. Before the fix the process hung for ever in the iterator destructor.
    _big_image(tmp_path / "data" / "big.png", 5000)
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", EXIT_MID_DECODE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "exiting" in out.stdout
    assert time.monotonic() - start < 240


def test_train_on_very_large_images_finishes_and_exits(tmp_path):
    # One 8000x8000 PNG (over the limit: skipped from its header), one 8000x8000 JPEG
    # (decoded at 1/8 scale) and one 5000x5000 PNG (decoded in full).
    folder = tmp_path / "data"
    _big_image(folder / "a_huge.png", 8000)
    _big_image(folder / "b_huge.jpg", 8000)
    _big_image(folder / "c_large.png", 5000)
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "pbgan.cli", *_train_args(folder, run)],
        capture_output=True,
        text=True,
        timeout=540,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "1 epochs done" in out.stdout
    assert (run / "generator.keras").exists()
    assert "a_huge.png" in out.stderr and "MAX_DECODE_PIXELS" in out.stderr  # logged skip


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(monkeypatch, tmp_path):
    path = _big_image(tmp_path / "x.png", 64)
    monkeypatch.setattr(files, "MAX_DECODE_PIXELS", 63 * 63)
    with pytest.raises(files.ImageTooLarge, match="64x64 .* MAX_DECODE_PIXELS .*downscale"):
        data.preprocess(path.read_bytes(), 16)
    Image.new("RGB", (16, 16)).save(tmp_path / "y.png")  # one readable image besides
    info = data.describe_source(tmp_path)
    assert info.load(0, 16) is None and info.skipped == 1
    assert "over MAX_DECODE_PIXELS" in info.skipped_files[str(path)]
    monkeypatch.setattr(files, "MAX_DECODE_PIXELS", 64 * 64)
    assert data.preprocess(path.read_bytes(), 16).shape == (16, 16, 3)


def test_a_large_jpeg_is_checked_at_its_draft_scale():
    # 4096x4096 decodes at 1/8 scale for a 32-pixel target: 512x512, under a 600x600 limit.
    import io

    buf = io.BytesIO()
    Image.new("RGB", (4096, 4096), (10, 200, 30)).save(buf, "JPEG")
    with pytest.MonkeyPatch.context() as m:
        m.setattr(files, "MAX_DECODE_PIXELS", 600 * 600)
        out = data.preprocess(buf.getvalue(), 32)
    assert out.shape == (32, 32, 3) and abs(int(out[..., 1].mean()) - 200) < 5


# --- nothing readable ---------------------------------------------------------------------


def _unreadable(folder: Path, kind: str, n: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        content = b"" if kind == "empty" else b"<html>not an image</html>" * 10
        (folder / f"{i}.{'jpg' if i % 2 else 'png'}").write_bytes(content)
    return folder


@pytest.mark.parametrize("kind", ["empty", "not-an-image"])
def test_describe_source_refuses_a_folder_where_nothing_decodes(tmp_path, kind):
    folder = _unreadable(tmp_path / "d", kind)
    with pytest.raises(data.DataError) as e:
        data.describe_source(folder)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"no readable image in {folder}: 3 files could not be decoded")
    assert "(e.g. " in message and "--data synthetic" in message


def test_describe_source_stops_at_the_first_readable_image(tmp_path):
    folder = _unreadable(tmp_path / "d", "empty", n=2)
    Image.new("RGB", (20, 20)).save(folder / "9.png")
    info = data.describe_source(folder)
    assert info.num_images == 3 and info.skipped == 2


@pytest.mark.parametrize("kind", ["empty", "not-an-image"])
def test_train_refuses_unreadable_data_in_one_line_and_writes_nothing(tmp_path, kind):
    folder = _unreadable(tmp_path / "d", kind)
    run = tmp_path / "run"
    result = CliRunner().invoke(main, _train_args(folder, run))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "no readable image in" in lines[0] and "3 files could not be decoded" in lines[0]
    assert not run.exists()


# --- --data that is not a data folder -----------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "missing", "data path not found"),
        (lambda p: (p / "notes.txt", (p / "notes.txt").write_text("x"))[0], "neither a folder"),
        (
            lambda p: (p / "e", (p / "e").mkdir(), (p / "e" / "a.txt").write_text("x"))[0],
            "no images found in",
        ),
    ],
    ids=["missing-folder", "a-file", "folder-without-images"],
)
def test_train_refuses_a_data_path_that_is_not_an_image_folder(tmp_path, make, expected):
    run = tmp_path / "run"
    result = CliRunner().invoke(main, _train_args(make(tmp_path), run))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "--data synthetic" in lines[0]
    assert not run.exists()
