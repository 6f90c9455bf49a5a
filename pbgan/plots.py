"""Pictures people look at: sample grids and loss curves, written atomically as PNG."""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

from pbgan.io import atomic_write_bytes

import numpy as np

__all__ = ["image_grid", "plot_loss_curves", "save_figure", "save_grid", "to_uint8"]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] to uint8 by ``round(x * 127.5 + 127.5)``, clipped."""
    return np.clip(np.rint(np.asarray(images) * 127.5 + 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, *, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile ``(n, h, w, 3)`` uint8 images into one image with ``pad`` pixels between."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        grid[y : y + h, x : x + w] = image
    return grid


def save_grid(images: np.ndarray, path: str | os.PathLike, *, cols: int | None = None) -> Path:
    """Write a PNG grid of uint8 images (or floats in [-1, 1]) atomically."""
    from PIL import Image

    if images.dtype != np.uint8:
        images = to_uint8(images)
    buf = io.BytesIO()
    Image.fromarray(image_grid(images, cols=cols)).save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Render a matplotlib figure to PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def plot_loss_curves(
    history: Sequence[dict], path: str | os.PathLike, *, title: str = "", keys=("d_loss", "g_loss")
) -> Path:
    """Generator and discriminator loss per epoch (like the paper's Figs 8-10)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [int(row["epoch"]) for row in history]
    for key in keys:
        ax.plot(epochs, [float(row[key]) for row in history], marker="o", ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or "GAN losses")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
