"""Interactive comparison of two reconstructions: a wipe slider, a zoom, a readout.

``Gallery`` is a table of reconstructions on disk (one row per image, method, family
and quality, with its metrics). ``ComparisonWidget`` shows two of them with a movable
boundary; the pure functions below it (``wipe``, ``zoom``) do the pixel work and are
what the tests check, so the widget itself holds no logic worth testing in a browser.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..files import load_rgb
from ..vocab import CONTROL

GALLERY_COLUMNS = ("image", "method", "family", "quality", "path", "bpp", "psnr", "ms_ssim", "jod")


def wipe(a: np.ndarray, b: np.ndarray, position: float, line: int = 2) -> np.ndarray:
    """``a`` left of the boundary at ``position`` (0..1 of the width), ``b`` right of it,
    with a thin white line on the boundary."""
    if a.shape != b.shape:
        raise ValueError(f"reconstructions differ in size: {a.shape} vs {b.shape}")
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"position must be in [0, 1], got {position}")
    width = a.shape[1]
    cut = int(round(position * width))
    out = b.copy()
    out[:, :cut] = a[:, :cut]
    lo, hi = max(cut - line // 2, 0), min(cut + (line + 1) // 2, width)
    out[:, lo:hi] = 255
    return out


def zoom(rgb: np.ndarray, center: tuple[float, float], factor: int) -> np.ndarray:
    """Crop of 1/``factor`` of the image around ``center`` (x, y in 0..1), enlarged
    back by pixel repetition so that coding artefacts stay visible (no smoothing)."""
    if factor < 1:
        raise ValueError(f"zoom factor must be >= 1, got {factor}")
    if factor == 1:
        return rgb
    h, w = rgb.shape[:2]
    ch, cw = max(h // factor, 1), max(w // factor, 1)
    cx, cy = center
    x0 = int(np.clip(round(cx * w - cw / 2), 0, w - cw))
    y0 = int(np.clip(round(cy * h - ch / 2), 0, h - ch))
    crop = rgb[y0:y0 + ch, x0:x0 + cw]
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


@lru_cache(maxsize=64)
def _load(path: str) -> np.ndarray:
    return load_rgb(path)


@dataclass
class Gallery:
    """Reconstructions on disk and their metrics, plus the originals by image name."""

    table: pd.DataFrame
    originals: dict[str, str]

    def __post_init__(self) -> None:
        missing = [c for c in GALLERY_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(f"gallery table lacks columns {missing}")
        if self.table.empty:
            raise ValueError("gallery table is empty: no reconstructions to compare")

    def options(self, column: str, **where) -> list:
        t = self.table
        for k, v in where.items():
            t = t[t[k] == v]
        return sorted(t[column].unique().tolist())

    def row(self, image: str, method: str, family: str, quality) -> pd.Series:
        t = self.table
        hit = t[(t.image == image) & (t.method == method) & (t.family == family) & (t.quality == quality)]
        if hit.empty:
            raise KeyError(f"no reconstruction for image={image} method={method} family={family} quality={quality}")
        return hit.iloc[0]

    def pixels(self, row: pd.Series) -> np.ndarray:
        return _load(str(row["path"]))


def readout_html(rows: list[pd.Series]) -> str:
    """A small table of bpp, PSNR, MS-SSIM and JOD for each shown reconstruction."""
    head = "<tr><th>side</th><th>method</th><th>bpp</th><th>PSNR (dB)</th><th>MS-SSIM</th><th>JOD</th></tr>"
    body = "".join(
        f"<tr><td>{side}</td><td>{r['method']}</td><td>{r['bpp']:.4f}</td><td>{r['psnr']:.2f}</td>"
        f"<td>{r['ms_ssim']:.4f}</td><td>{'' if pd.isna(r['jod']) else f'{r.jod:.2f}'}</td></tr>"
        for side, r in zip(("left", "right"), rows)
    )
    return f"<table class='jndlc-readout'>{head}{body}</table>"


def _png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


class ComparisonWidget:
    """Choose an image, a family, a quality and two methods; wipe between them; zoom.

    ``.widget`` is the ipywidgets box to display; ``.view()`` the composed pixels and
    ``.readout.value`` the metrics table, as they are shown.
    """

    def __init__(self, gallery: Gallery, left: str = CONTROL, right: str | None = None) -> None:
        import ipywidgets as W

        self.gallery = gallery
        images = gallery.options("image")
        families = gallery.options("family")
        methods = gallery.options("method")
        right = right or next((m for m in ("fwl", "iwl", "pwl") if m in methods), methods[-1])
        left = left if left in methods else methods[0]
        self.image = W.Dropdown(options=images, description="image")
        self.family = W.Dropdown(options=families, description="trained for")
        self.quality = W.SelectionSlider(options=gallery.options("quality"), description="quality")
        self.left = W.Dropdown(options=methods, value=left, description="left")
        self.right = W.Dropdown(options=methods, value=right, description="right")
        self.position = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="wipe")
        self.zoom = W.IntSlider(value=1, min=1, max=8, description="zoom")
        self.zoom_x = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="zoom x")
        self.zoom_y = W.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="zoom y")
        self.picture = W.Image(format="png")
        self.readout = W.HTML()
        controls = [self.image, self.family, self.quality, self.left, self.right,
                    self.position, self.zoom, self.zoom_x, self.zoom_y]
        for c in controls:
            c.observe(self._refresh, names="value")
        self.widget = W.VBox([W.HBox([W.VBox(controls[:5]), W.VBox(controls[5:])]),
                              self.picture, self.readout])
        self._refresh()

    def rows(self) -> list[pd.Series]:
        g = self.gallery
        return [g.row(self.image.value, m, self.family.value, self.quality.value)
                for m in (self.left.value, self.right.value)]

    def view(self) -> np.ndarray:
        a, b = (self.gallery.pixels(r) for r in self.rows())
        composed = wipe(a, b, self.position.value)
        return zoom(composed, (self.zoom_x.value, self.zoom_y.value), self.zoom.value)

    def _refresh(self, _change=None) -> None:
        try:
            rows = self.rows()
        except KeyError as e:  # a combination the gallery lacks: say so, keep the last picture
            self.readout.value = f"<b>{e.args[0]}</b>"
            return
        view = self.view()
        self.picture.value = _png_bytes(view)
        self.picture.width = str(view.shape[1])  # natural size: no browser smoothing of artefacts
        self.readout.value = readout_html(rows)


def gallery_from_folder(recon_dir: str | Path, metrics: pd.DataFrame, originals: dict[str, str]) -> Gallery:
    """A gallery over ``recon_dir/<family>/<method>/q<quality>/<image>.png`` joined with
    the evaluation table's metrics (columns image, method, family, quality, ...)."""
    recon_dir = Path(recon_dir)
    rows = []
    for path in sorted(recon_dir.glob("*/*/q*/*.png")):
        family, method, q = path.parts[-4], path.parts[-3], path.parts[-2]
        rows.append({"image": path.stem, "method": method, "family": family,
                     "quality": int(q[1:]), "path": str(path)})
    if not rows:
        raise FileNotFoundError(f"no reconstructions under {recon_dir}")
    table = pd.DataFrame(rows).merge(
        metrics[["image", "method", "family", "quality", "bpp", "psnr", "ms_ssim", "jod"]],
        on=["image", "method", "family", "quality"], how="left",
    )
    return Gallery(table, originals)
