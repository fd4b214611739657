"""Helpers for the ``conv_layers`` notebook (released to students).

Gradient checking (``rel_error``, ``eval_numerical_gradient_array``) follows
CS231n's definitions; the image helpers use only numpy and matplotlib, and the
sample photo ships with matplotlib, so everything works offline.
"""
from __future__ import annotations

from typing import Callable

import matplotlib.cbook as cbook
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "rel_error",
    "eval_numerical_gradient_array",
    "load_sample_images",
    "imshow_no_ax",
    "show_conv_demo",
]


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """Maximum relative error ``max(|x - y| / max(1e-8, |x| + |y|))``.

    ``x`` and ``y`` are arrays of the same (broadcastable) shape.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    df: np.ndarray,
    h: float = 1e-5,
) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * df)`` with respect to ``x``.

    - f: function taking an array shaped like ``x`` and returning an array
      shaped like ``df``.
    - x: float array of any shape; each entry is nudged by +-h in place and
      restored afterwards, so ``x`` is unchanged when this returns.
    - df: upstream gradient, same shape as ``f(x)``.

    Returns an array with the same shape as ``x``.
    """
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must be a float array, got dtype {x.dtype}")
    if np.shape(f(x)) != np.shape(df):
        raise ValueError(f"f(x) has shape {np.shape(f(x))} but df has shape {np.shape(df)}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        oldval = x[ix]
        x[ix] = oldval + h
        pos = np.array(f(x), copy=True)
        x[ix] = oldval - h
        neg = np.array(f(x), copy=True)
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def _downsample(img: np.ndarray, size: int) -> np.ndarray:
    """Block-average an (H, W, 3) image to (size, size, 3); any H, W >= size."""
    rows = np.linspace(0, img.shape[0], size + 1).astype(int)
    cols = np.linspace(0, img.shape[1], size + 1).astype(int)
    sums = np.add.reduceat(np.add.reduceat(img, rows[:-1], axis=0), cols[:-1], axis=1)
    counts = np.outer(np.diff(rows), np.diff(cols))[:, :, None]
    return sums / counts


def load_sample_images(size: int = 96) -> np.ndarray:
    """Two RGB images cut from matplotlib's bundled ``grace_hopper.jpg``.

    Image 0 is the centred square crop of the whole portrait, image 1 a square
    crop of the face; both are block-averaged down to ``size x size``.

    Returns a float64 array of shape (2, 3, size, size) with values in [0, 255]
    (channels first, RGB order).
    """
    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    photo = mpimg.imread(path).astype(np.float64)  # (600, 512, 3) uint8 -> float
    H, W = photo.shape[:2]
    side = min(H, W)
    if size < 1 or size > 240:
        raise ValueError(f"size must be in [1, 240], got {size}")
    top, left = (H - side) // 2, (W - side) // 2
    whole = photo[top:top + side, left:left + side]
    face = photo[96:336, 144:384]  # 240 x 240 around the face
    imgs = [_downsample(crop, size) for crop in (whole, face)]
    return np.stack(imgs).transpose(0, 3, 1, 2)


def imshow_no_ax(img: np.ndarray, normalize: bool = True, ax=None) -> None:
    """Show an (H, W, 3) RGB or (H, W) grayscale image without axis ticks.

    With ``normalize`` the values are rescaled to [0, 255] first; grayscale
    images use the gray colormap. Draws on ``ax`` (default: current axes).
    """
    ax = plt.gca() if ax is None else ax
    img = np.asarray(img, dtype=np.float64)
    if normalize:
        lo, hi = img.min(), img.max()
        img = 255.0 * (img - lo) / max(hi - lo, 1e-12)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # Nearest: the small images stay crisp, and the notebook's PNG stays small.
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest")
    ax.axis("off")


def show_conv_demo(images: np.ndarray, out: np.ndarray) -> Figure:
    """Grid of originals, filter-0 outputs (grayscale) and filter-1 outputs (edges).

    - images: (N, 3, H, W) input images, channels first.
    - out: (N, 2, H', W') output of the conv layer for those images.

    One row per image. Returns the matplotlib Figure.
    """
    n = images.shape[0]
    fig, axes = plt.subplots(n, 3, figsize=(7.5, 2.6 * n), squeeze=False,
                             gridspec_kw={"wspace": 0.05, "hspace": 0.15})
    for i in range(n):
        for j, (img, title) in enumerate([
            (images[i].transpose(1, 2, 0), "Original image"),
            (out[i, 0], "Grayscale"),
            (out[i, 1], "Edges"),
        ]):
            imshow_no_ax(img, normalize=j > 0, ax=axes[i, j])
            if i == 0:
                axes[i, j].set_title(title)
    return fig
