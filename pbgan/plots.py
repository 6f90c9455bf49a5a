"""Pictures people look at: sample grids, loss curves and figures, written atomically as PNG.

Figures are ``matplotlib.figure.Figure`` objects rendered by the Agg canvas directly, so
the library never touches pyplot's global state or switches a user's backend.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

from pbgan.io import atomic_write_bytes

import numpy as np

__all__ = ["image_grid", "new_figure", "plot_loss_curves", "save_figure", "save_grid", "to_uint8"]


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Generator output in [-1, 1] to uint8: ``clip(round(x * 127.5 + 127.5), 0, 255)``."""
    x = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint(x * 127.5 + 127.5), 0, 255).astype(np.uint8)


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


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **subplot_kw):
    """``(figure, axes)`` like ``plt.subplots``, but a plain Figure outside pyplot."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **subplot_kw)


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Render a matplotlib figure to PNG with the Agg canvas, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def plot_loss_curves(
    history: Sequence[dict], path: str | os.PathLike, *, title: str = "", keys=("d_loss", "g_loss")
) -> Path:
    """Generator and discriminator loss per epoch (like the paper's Figs 8-10)."""
    fig, ax = new_figure(figsize=(6, 3.5))
    epochs = [int(row["epoch"]) for row in history]
    for key in keys:
        ax.plot(epochs, [float(row[key]) for row in history], marker="o", ms=3, label=key)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title or "GAN losses")
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
