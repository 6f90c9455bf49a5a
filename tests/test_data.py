"""Data sources: synthetic faces, image folders, CelebA layouts and zips, tf.data batches."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from pbgan import data
from pbgan.data import files, pipeline, synthetic, synthetic_render

import numpy as np
import pytest
from PIL import Image


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def _write_faces(folder: Path, n: int, *, fmt: str = "jpg", size=(178, 218), start: int = 0):
    """Write ``n`` distinct face images of ``size`` (w, h) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    side = max(w, h)
    faces = data.synthetic_faces(n, side, seed=11, start=start)
    paths = []
    for i, face in enumerate(faces):
        top, left = (side - h) // 2, (side - w) // 2
        path = folder / f"{start + i + 1:06d}.{fmt}"
        Image.fromarray(face[top : top + h, left : left + w]).save(path)
        paths.append(path)
    return paths


def _batches(ds) -> list[np.ndarray]:
    return [b.numpy() for b in ds]


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


# --- package layout -----------------------------------------------------------------------


def test_faces_and_file_readers_import_without_tensorflow():
    # Only the tf.data pipeline may load TensorFlow; the rest must stay cheap to import.
    code = (
        "import sys, pbgan.data.synthetic, pbgan.data.files;"
        "from pbgan.data import describe_source, synthetic_faces;"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_package_exports_exactly_the_public_names_of_its_modules():
    homes = (files, synthetic, pipeline)
    assert set(data.__all__) == {name for m in homes for name in m.__all__}
    for name in data.__all__:
        owners = [m for m in homes if name in m.__all__]
        assert len(owners) == 1, (name, owners)
        assert getattr(data, name) is getattr(owners[0], name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        data.nope  # noqa: B018


# --- synthetic faces ----------------------------------------------------------------------


def test_synthetic_faces_are_uint8_images_of_the_requested_size():
    for size in (32, 64, 128):
        x = data.synthetic_faces(5, size)
        assert x.shape == (5, size, size, 3)
        assert x.dtype == np.uint8


def test_same_seed_gives_same_faces_and_another_seed_different_ones():
    a = data.synthetic_faces(16, 32, seed=3)
    assert np.array_equal(a, data.synthetic_faces(16, 32, seed=3))
    b = data.synthetic_faces(16, 32, seed=4)
    assert np.abs(a.astype(int) - b).mean() > 20


def test_each_face_depends_only_on_seed_and_index_not_on_batching():
    full = data.synthetic_faces(70, 64, seed=5)  # spans several internal chunks
    assert np.array_equal(data.synthetic_faces(30, 64, seed=5, start=25), full[25:55])
    perm = np.random.default_rng(0).permutation(70)
    assert np.array_equal(data.synthetic_faces_at(perm, 64, seed=5), full[perm])
    for i in (0, 31, 32, 69):
        assert np.array_equal(data.synthetic_face(i, 64, seed=5), full[i])


def test_facial_features_stay_inside_their_render_windows(monkeypatch):
    # Eyes and mouth are drawn only inside per-image windows, for speed. Drawing them over
    # the whole frame must change nothing, even one image at a time (tightest windows).
    def whole_frame(p, size, *box):
        n = len(p["cx"])
        return np.zeros(n, int), np.zeros(n, int), size, size

    monkeypatch.setattr(synthetic, "_CHUNK", 1)
    for size in (32, 128):
        windowed = data.synthetic_faces(60, size, seed=9)
        with monkeypatch.context() as m:
            m.setattr(synthetic_render, "_window", whole_frame)
            assert np.array_equal(windowed, data.synthetic_faces(60, size, seed=9))


def test_synthetic_faces_vary_at_every_swd_pyramid_level():
    x = data.synthetic_faces(256, 64, seed=0).astype(np.float32)

    def down(a):
        n, h, w, c = a.shape
        return a.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))

    level = x
    detail = {}
    for res in (64, 32):
        low = down(level)
        band = level - low.repeat(2, axis=1).repeat(2, axis=2)
        detail[res] = (np.abs(band).mean(), band.std(axis=0).mean())
        level = low
    # Fine structure exists within images and differs between them at 64 and 32 ...
    for res in (64, 32):
        mean_abs, spread = detail[res]
        assert mean_abs > 2.5, (res, detail)
        assert spread > 5.0, (res, detail)
    # ... and the coarse 16x16 content (layout, colours) differs a lot between images.
    assert level.std(axis=0).mean() > 30
    assert x.std(axis=(1, 2, 3)).mean() > 30  # no flat images


# --- make_dataset: synthetic --------------------------------------------------------------


def test_synthetic_dataset_yields_float_batches_in_unit_range_of_the_set_images():
    ds = data.make_dataset(
        "synthetic", size=32, batch_size=8, shuffle=False, repeat=False, num_synthetic=20
    )
    batches = _batches(ds)
    assert len(batches) == 2  # 20 images, the partial third batch is dropped
    for b in batches:
        assert b.shape == (8, 32, 32, 3) and b.dtype == np.float32
        assert b.min() >= -1.0 and b.max() <= 1.0
    expected = data.synthetic_faces(16, 32, seed=data.SYNTHETIC_SEED) / 127.5 - 1.0
    np.testing.assert_allclose(np.concatenate(batches), expected, atol=1e-6)


def test_shuffled_order_is_fixed_by_seed_and_repeats_forever():
    def first(seed, k=3):
        ds = data.make_dataset("synthetic", size=16, batch_size=4, seed=seed, num_synthetic=10)
        return [b.numpy() for b, _ in zip(ds, range(k), strict=False)]

    a = first(1)
    assert len(a) == 3  # 12 images from a set of 10: the set repeats
    assert all(np.array_equal(x, y) for x, y in zip(a, first(1), strict=True))
    assert not np.array_equal(a[0], first(2)[0])


# --- image files --------------------------------------------------------------------------


def test_any_folder_of_png_and_jpg_images_loads_recursively(tmp_path):
    _write_faces(tmp_path / "a", 3, fmt="png", size=(48, 40))
    _write_faces(tmp_path / "b" / "c", 3, fmt="jpg", size=(30, 50), start=3)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "._000001.png").write_bytes(b"macOS resource fork")
    info = data.describe_source(tmp_path)
    assert info.kind == "folder" and info.num_images == 6
    batches = _batches(data.make_dataset(info, size=16, batch_size=2, shuffle=False, repeat=False))
    assert len(batches) == 3
    assert all(b.shape == (2, 16, 16, 3) and b.dtype == np.float32 for b in batches)
    assert info.skipped == 0


@pytest.mark.parametrize(
    "given, layout",
    [
        ("img_align_celeba", "img_align_celeba"),  # the folder itself
        (".", "img_align_celeba"),  # its parent
        (".", "img_align_celeba/img_align_celeba"),  # Kaggle's double nesting
        ("img_align_celeba", "img_align_celeba/img_align_celeba"),
    ],
)
def test_celeba_folder_is_found_in_every_usual_layout(tmp_path, given, layout):
    _write_faces(tmp_path / layout, 4)
    (tmp_path / "list_attr_celeba.csv").write_text("image_id\n")
    info = data.describe_source(tmp_path / given)
    assert info.kind == "celeba-folder"
    assert info.num_images == 4
    assert Path(info.path) == tmp_path / layout


def test_celeba_zip_is_read_in_place_without_extracting(tmp_path):
    src = _write_faces(tmp_path / "src", 5)
    archive = tmp_path / "data" / "img_align_celeba.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src:
            zf.write(p, f"img_align_celeba/{p.name}")
        zf.writestr("list_eval_partition.txt", "000001.jpg 0\n")
    before = _tree(archive.parent)
    info = data.describe_source(archive)
    assert info.kind == "celeba-zip" and info.num_images == 5
    (batch,) = _batches(data.make_dataset(info, size=32, batch_size=4, shuffle=False, repeat=False))
    expected = data.preprocess(src[0].read_bytes(), 32) / 127.5 - 1.0
    np.testing.assert_allclose(batch[0], expected, atol=1e-6)
    assert _tree(archive.parent) == before


def test_zip_is_opened_once_per_reader_thread_not_once_per_image(tmp_path, monkeypatch):
    # Opening parses the central directory, about a second for CelebA's 202,599 entries.
    src = _write_faces(tmp_path / "src", 24, size=(32, 32))
    archive = tmp_path / "faces.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src:
            zf.write(p, p.name)
    opened = []

    class CountingZipFile(zipfile.ZipFile):
        def __init__(self, *args, **kwargs):
            opened.append(1)
            super().__init__(*args, **kwargs)

    info = data.describe_source(archive)
    monkeypatch.setattr(files.zipfile, "ZipFile", CountingZipFile)
    batches = _batches(data.make_dataset(info, size=16, batch_size=8, repeat=False))
    assert len(batches) == 3
    assert len(opened) <= min(24, (os.cpu_count() or 1) + 2)


def test_kaggle_zip_with_double_nesting_is_read(tmp_path):
    src = _write_faces(tmp_path / "src", 3)
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in src:
            zf.write(p, f"img_align_celeba/img_align_celeba/{p.name}")
        zf.writestr("list_attr_celeba.csv", "image_id\n")
    info = data.describe_source(archive)
    assert info.kind == "celeba-zip" and info.num_images == 3
    assert len(data.real_images(info, 3, 16)) == 3


def test_celeba_crop_is_the_pggan_square_centred_at_89_121():
    image = np.zeros((218, 178, 3), np.uint8)
    image[...] = (255, 0, 0)  # red outside the expected crop
    image[57:185, 25:153] = (0, 255, 0)
    image[57:65, 25:33] = (0, 0, 255)  # marker in the crop's top-left corner
    out = data.preprocess(_png(image), 128)
    assert np.array_equal(out, image[57:185, 25:153])
    small = data.preprocess(_png(image), 64)
    assert small[..., 0].max() == 0  # no red: the crop starts and ends exactly there
    assert np.all(small[:4, :4] == (0, 0, 255))
    assert np.all(small[4:, 4:] == (0, 255, 0))


def test_other_images_keep_their_centred_square():
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :10] = image[:, 50:] = (255, 0, 0)
    image[:, 10:50] = (0, 255, 0)
    out = data.preprocess(_png(image), 20)
    assert out.shape == (20, 20, 3)
    assert np.all(out == (0, 255, 0))


def test_exif_orientation_is_applied_before_cropping():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :20] = (255, 0, 0)
    image[:, 20:] = (0, 255, 0)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG", exif=exif)
    out = data.preprocess(buf.getvalue(), 20).astype(int)
    # Upright the left half is on top, so the centred square is split top/bottom.
    assert out[:8, :, 0].min() > 200 and out[12:, :, 1].min() > 200


def test_large_jpeg_decoded_in_draft_mode_matches_a_full_decode():
    face = data.synthetic_faces(1, 1024, seed=2)[0][:, 128:896]
    buf = io.BytesIO()
    Image.fromarray(face).save(buf, "JPEG", quality=95)
    fast = data.preprocess(buf.getvalue(), 64).astype(float)
    full = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    ref = np.asarray(full.resize((64, 64), Image.Resampling.BOX, box=(0, 128, 768, 896)))
    assert np.abs(fast - ref).mean() < 3.0


def test_corrupt_image_is_skipped_and_counted_while_good_ones_load(tmp_path, caplog):
    _write_faces(tmp_path, 5, size=(64, 64))
    (tmp_path / "000003.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    good = (tmp_path / "000004.jpg").read_bytes()
    (tmp_path / "000004.jpg").write_bytes(good[: len(good) // 3])  # truncated
    info = data.describe_source(tmp_path)
    with caplog.at_level(logging.WARNING, logger="pbgan.data"):
        batches = _batches(
            data.make_dataset(info, size=16, batch_size=3, shuffle=False, repeat=False)
        )
    assert len(batches) == 1  # 3 readable images
    assert info.skipped == 2
    assert sorted(Path(p).name for p in info.skipped_files) == ["000003.jpg", "000004.jpg"]
    assert "skipped unreadable image" in caplog.text
    assert len(data.real_images(info, 10, 16)) == 3
    assert info.skipped == 2  # counted once per file, however often it is met


def test_source_where_nothing_is_readable_fails_instead_of_spinning(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    ds = data.make_dataset(tmp_path, size=16, batch_size=2)  # repeats forever
    with pytest.raises(Exception, match="could be read"):
        next(iter(ds))


def test_user_data_is_never_modified(tmp_path):
    _write_faces(tmp_path / "img_align_celeba", 4)
    before = _tree(tmp_path)
    info = data.describe_source(tmp_path)
    _batches(data.make_dataset(info, size=16, batch_size=2, repeat=False))
    data.real_images(info, 4, 16)
    assert _tree(tmp_path) == before


# --- errors -------------------------------------------------------------------------------


def test_missing_path_raises_data_error_naming_the_fix(tmp_path):
    with pytest.raises(data.DataError, match="not found.*--data synthetic"):
        data.make_dataset(tmp_path / "nope")


def test_empty_folder_raises_data_error_naming_the_fix(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(data.DataError, match=r"no images found in .*--data synthetic"):
        data.describe_source(tmp_path)


def test_zip_without_images_raises_data_error(tmp_path):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("a.txt", "text")
    with pytest.raises(data.DataError, match="no images found in zip"):
        data.describe_source(archive)


def test_a_file_that_is_neither_folder_nor_zip_raises_data_error(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(_png(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(data.DataError, match="neither a folder nor a zip"):
        data.describe_source(path)


def test_data_error_is_a_value_error_with_a_one_line_message(tmp_path):
    with pytest.raises(ValueError) as e:
        data.describe_source(tmp_path / "missing")
    assert "\n" not in str(e.value)


# --- real_images --------------------------------------------------------------------------


def test_real_images_from_synthetic_are_a_seeded_sample_of_the_training_set():
    x = data.real_images("synthetic", 6, 32, seed=1, num_synthetic=100)
    order = np.random.default_rng(1).permutation(100)[:6]
    assert np.array_equal(x, data.synthetic_faces_at(order, 32, data.SYNTHETIC_SEED))
    assert not np.array_equal(x, data.real_images("synthetic", 6, 32, seed=2, num_synthetic=100))


def test_real_images_from_files_are_deterministic_by_seed(tmp_path):
    _write_faces(tmp_path, 6, fmt="png", size=(40, 40))
    a = data.real_images(tmp_path, 4, 16, seed=0)
    assert a.shape == (4, 16, 16, 3) and a.dtype == np.uint8
    assert np.array_equal(a, data.real_images(tmp_path, 4, 16, seed=0))
    assert not np.array_equal(a, data.real_images(tmp_path, 4, 16, seed=1))


def test_real_images_returns_what_exists_when_asked_for_more(tmp_path, caplog):
    _write_faces(tmp_path, 3, fmt="png", size=(20, 20))
    with caplog.at_level(logging.WARNING, logger="pbgan.data"):
        x = data.real_images(os.fspath(tmp_path), 10, 16)
    assert len(x) == 3
    assert "holds 3" in caplog.text
