"""Image files as data: CelebA folders and zips, any folder or zip of images.

:func:`describe_source` resolves a ``--data`` argument, lists its images and checks
that one decodes; :class:`SourceInfo` reads and preprocesses one file at a time, counting
the unreadable ones; :func:`preprocess` turns image bytes into a square uint8 image.
Nothing is ever downloaded or extracted and the user's files are only read. Nothing
here imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import threading
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "CELEBA_CROP",
    "CELEBA_IMAGE_SIZE",
    "IMAGE_EXTENSIONS",
    "MAX_DECODE_PIXELS",
    "SYNTHETIC",
    "DataError",
    "SourceInfo",
    "crop_box",
    "describe_source",
    "preprocess",
]

log = logging.getLogger(__name__)

#: File name endings read as images (case-insensitive).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
SYNTHETIC = "synthetic"
_CELEBA_DIR = "img_align_celeba"
#: Aligned CelebA images are 178x218; PGGAN crops 128x128 centred at (x=89, y=121).
CELEBA_IMAGE_SIZE = (178, 218)
CELEBA_CROP = (25, 57, 153, 185)  # (left, top, right, bottom)
_FIX = "pass --data synthetic, a folder of .jpg/.png images, or a CelebA folder or zip"
#: Largest image decoded, in pixels after JPEG draft scaling (about 100 MB as RGB, a
#: second or so to decode). Larger files are skipped and counted as unreadable: a huge
#: decode pins its memory and a pipeline thread for seconds, and an exit that lands in
#: one used to hang (see ``pipeline``). A JPEG is decoded at up to 1/8 scale first, so
#: only JPEGs over about 46000x46000 meet the limit.
MAX_DECODE_PIXELS = 2**25
_LOG_FIRST = 10  # skipped files logged one by one before switching to a running count


class DataError(ValueError):
    """A data source cannot be used; the message says why and what to pass instead."""


class ImageTooLarge(ValueError):
    """An image would decode to more than :data:`MAX_DECODE_PIXELS` pixels."""


@dataclasses.dataclass(eq=False)
class SourceInfo:
    """What a data source is and how reading it went.

    Attributes:
        kind: ``"synthetic"``, ``"celeba-folder"``, ``"celeba-zip"``, ``"folder"`` or
            ``"zip"``.
        path: the folder or zip that images are read from (for CelebA the folder that
            holds the ``.jpg`` files), or ``None`` for the synthetic set.
        num_images: number of image files (or synthetic images).
        files: image paths, or member names inside the zip, sorted.

    ``skipped`` counts the distinct files found unreadable so far by every pipeline and
    :func:`~pbgan.data.real_images` call that was given this object; pass the same
    object to :func:`~pbgan.data.make_dataset` to read it after (or during) iteration.
    """

    kind: str
    path: str | None
    num_images: int
    files: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._skipped: dict[str, str] = {}
        self._zips: dict[int, zipfile.ZipFile] = {}

    @property
    def skipped(self) -> int:
        """Number of distinct unreadable images skipped so far."""
        with self._lock:
            return len(self._skipped)

    @property
    def skipped_files(self) -> dict[str, str]:
        """Unreadable files skipped so far, each with the reason."""
        with self._lock:
            return dict(self._skipped)

    def read_bytes(self, i: int) -> bytes:
        """The raw bytes of file ``i``; never modifies or extracts anything."""
        name = self.files[i]
        if self.kind.endswith("zip"):
            # A ZipFile has one file position, so each reader thread gets its own. Keyed by
            # thread id, not threading.local: tf.data calls in from native threads whose
            # Python thread state (and so any thread-local) is discarded after every call.
            tid = threading.get_ident()
            zf = self._zips.get(tid)
            if zf is None:
                zf = zipfile.ZipFile(self.path)
                with self._lock:
                    self._zips[tid] = zf
            return zf.read(name)
        with open(name, "rb") as f:
            return f.read()

    def load(self, i: int, size: int) -> np.ndarray | None:
        """File ``i`` preprocessed to ``(size, size, 3)`` uint8, or ``None`` if unreadable.

        An unreadable file is recorded and logged, never raised; once every file has
        failed, :class:`DataError` is raised so that a repeating pipeline cannot spin.
        """
        try:
            return preprocess(self.read_bytes(i), size)
        except UnidentifiedImageError:
            self._skip(self.files[i], "not a recognised image format")
        except Exception as e:  # any decoder or I/O failure means "unreadable"
            self._skip(self.files[i], f"{type(e).__name__}: {e}")
        return None

    def _skip(self, name: str, reason: str) -> None:
        with self._lock:
            if name in self._skipped:
                return
            self._skipped[name] = reason
            count = len(self._skipped)
        if count <= _LOG_FIRST:
            log.warning("skipped unreadable image %s (%s); %d skipped so far", name, reason, count)
        elif count % 100 == 0:
            log.warning("skipped %d unreadable images so far", count)
        if count >= self.num_images:
            raise DataError(
                f"none of the {self.num_images} images in {self.path} could be read: {_FIX}"
            )


def _is_image(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    # Dot files include macOS "._x.jpg" resource forks, which are not images.
    return not base.startswith(".") and base.lower().endswith(IMAGE_EXTENSIONS)


def _list_images(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, f) for f in filenames if _is_image(f))
    return sorted(found)


def _has_images(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    with os.scandir(folder) as it:
        return any(e.is_file() and _is_image(e.name) for e in it)


def _celeba_folder(root: Path) -> Path | None:
    """The folder holding CelebA's jpgs, given it, its parent, or Kaggle's double nesting."""
    for cand in (root / _CELEBA_DIR / _CELEBA_DIR, root / _CELEBA_DIR, root):
        if cand.name == _CELEBA_DIR and _has_images(cand):
            return cand
    return None


def describe_source(
    source: str | os.PathLike, *, num_synthetic: int = 50_000, check_readable: bool = True
) -> SourceInfo:
    """Resolve a data source, list its images and check that one of them decodes.

    Args:
        source: ``"synthetic"``; a CelebA folder (``img_align_celeba`` itself, a folder
            that contains it, or Kaggle's ``img_align_celeba/img_align_celeba``); the
            CelebA zip (or any zip of images); or any folder of ``.jpg``, ``.jpeg``,
            ``.png`` or ``.bmp`` images, searched recursively.
        num_synthetic: size of the synthetic set.
        check_readable: decode files in order until one succeeds (usually just the
            first), so a source of which nothing can be read is refused here, before a
            run writes anything; the unreadable ones are counted in ``skipped``.

    Raises:
        DataError: the path is missing, is not a folder or zip, holds no images, or no
            image in it can be decoded.
    """
    if isinstance(source, str) and source == SYNTHETIC:
        if num_synthetic < 1:
            raise DataError(f"num_synthetic must be positive, got {num_synthetic}")
        return SourceInfo("synthetic", None, num_synthetic)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"data path not found: {path}: {_FIX}")
    if path.is_dir():
        celeba = _celeba_folder(path)
        folder = celeba or path
        files = _list_images(folder)
        if not files:
            raise DataError(f"no images found in {path}: {_FIX}")
        kind = "celeba-folder" if celeba else "folder"
        info = SourceInfo(kind, str(folder), len(files), tuple(files))
    else:
        info = _describe_zip(path)
    if check_readable:
        _check_readable(info)
    return info


def _describe_zip(path: Path) -> SourceInfo:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path} is neither a folder nor a zip file: {_FIX}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
    except (OSError, zipfile.BadZipFile) as e:
        raise DataError(f"cannot read zip {path} ({e}): {_FIX}") from e
    names = [n for n in names if _is_image(n) and not n.startswith("__MACOSX/")]
    celeba = [n for n in names if _CELEBA_DIR in n.split("/")[:-1]]
    files = sorted(celeba or names)
    if not files:
        raise DataError(f"no images found in zip {path}: {_FIX}")
    return SourceInfo("celeba-zip" if celeba else "zip", str(path), len(files), tuple(files))


def _check_readable(info: SourceInfo) -> None:
    """Raise :class:`DataError` unless some file of ``info`` decodes (stops at the first)."""
    for i in range(info.num_images):
        try:
            image = info.load(i, 8)
        except DataError:  # every file has now failed
            break
        if image is not None:
            return
    name, reason = next(iter(info.skipped_files.items()))
    raise DataError(
        f"no readable image in {info.path}: {info.skipped} files could not be decoded "
        f"(e.g. {name}: {reason}) — {_FIX}"
    )


def crop_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The square that :func:`preprocess` keeps, as ``(left, top, right, bottom)``.

    178x218 images (aligned CelebA) keep PGGAN's 128x128 crop centred at (x=89,
    y=121), which frames the face from brows to chin; other images keep the centred
    square of side ``min(width, height)``.
    """
    if (width, height) == CELEBA_IMAGE_SIZE:
        return CELEBA_CROP
    s = min(width, height)
    left, top = (width - s) / 2, (height - s) / 2
    return left, top, left + s, top + s


def preprocess(data: bytes, size: int) -> np.ndarray:
    """Decode image bytes and produce a ``(size, size, 3)`` uint8 training image.

    EXIF orientation is applied, transparency is composited onto white, the square of
    :func:`crop_box` is cut and resized to ``size`` with an area (box) filter when
    shrinking and bicubic when enlarging. Large JPEGs are decoded at a reduced scale
    first (JPEG "draft" mode), never below twice the target resolution.

    Raises:
        ImageTooLarge: the image would decode to more than :data:`MAX_DECODE_PIXELS`
            pixels; checked from the header, before any pixel is decoded.
        Exception: whatever the decoder raises for corrupt or unsupported data.
    """
    with Image.open(io.BytesIO(data)) as im:
        w, h = im.size
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
        if im.format == "JPEG" and min(w, h) >= 4 * size and (w, h) != CELEBA_IMAGE_SIZE:
            s = min(w, h)
            im.draft("RGB", (-(-w * 2 * size // s), -(-h * 2 * size // s)))
        dw, dh = im.size  # what will be decoded, read from the header alone
        if dw * dh > MAX_DECODE_PIXELS:
            raise ImageTooLarge(
                f"{w}x{h} decodes to {dw * dh} pixels, over MAX_DECODE_PIXELS "
                f"{MAX_DECODE_PIXELS}: downscale it"
            )
        if orientation != 1:
            im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            im.alpha_composite(rgba)
        im = im.convert("RGB")
        # The crop is defined on the full, upright image; draft mode may have decoded it
        # smaller, so scale the box to what was actually decoded.
        full_w, full_h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        scale = im.size[0] / full_w
        box = tuple(v * scale for v in crop_box(full_w, full_h))
        resample = Image.Resampling.BOX if box[2] - box[0] >= size else Image.Resampling.BICUBIC
        out = im.resize((size, size), resample=resample, box=box)
        return np.asarray(out, dtype=np.uint8)


_EXIF_ORIENTATION = 0x0112
