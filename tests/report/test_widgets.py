"""The comparison widget, driven without a browser: build it, set values, check what it shows."""
import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.report import widgets
from jndlc_helpers.files import save_png


def test_wipe_puts_left_image_left_of_the_boundary():
    a = np.full((4, 10, 3), 10, np.uint8)
    b = np.full((4, 10, 3), 200, np.uint8)
    out = widgets.wipe(a, b, 0.5, line=0)
    assert (out[:, :5] == 10).all() and (out[:, 5:] == 200).all()
    assert (widgets.wipe(a, b, 0.0, line=0) == 200).all()
    assert (widgets.wipe(a, b, 1.0, line=0) == 10).all()
    lined = widgets.wipe(a, b, 0.5, line=2)
    assert (lined[:, 4:6] == 255).all()


def test_wipe_refuses_mismatched_sizes_and_bad_position():
    a = np.zeros((4, 10, 3), np.uint8)
    with pytest.raises(ValueError, match="differ in size"):
        widgets.wipe(a, np.zeros((4, 8, 3), np.uint8), 0.5)
    with pytest.raises(ValueError, match="position"):
        widgets.wipe(a, a, 1.5)


def test_zoom_repeats_pixels_of_the_chosen_region():
    img = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    out = widgets.zoom(img, (0.0, 0.0), 2)
    assert out.shape == img.shape
    assert (out[0, 0] == img[0, 0]).all() and (out[1, 1] == img[0, 0]).all()
    assert (out[2, 2] == img[1, 1]).all()
    corner = widgets.zoom(img, (1.0, 1.0), 4)
    assert (corner[-1, -1] == img[-1, -1]).all()
    assert widgets.zoom(img, (0.5, 0.5), 1) is img


@pytest.fixture
def gallery(tmp_path):
    rows = []
    for method, value in (("baseline", 60), ("iwl", 120), ("fwl", 180)):
        for q in (1, 3):
            path = tmp_path / "mse" / method / f"q{q}" / "img.png"
            save_png(path, np.full((16, 16, 3), value + q, np.uint8))
            rows.append(dict(image="img", method=method, family="mse", quality=q, path=str(path),
                             bpp=0.1 * q, psnr=30.0 + q, ms_ssim=0.9, jod=np.nan))
    return widgets.Gallery(pd.DataFrame(rows), {"img": str(path)})


def test_widget_shows_both_reconstructions_and_their_metrics(gallery):
    w = widgets.ComparisonWidget(gallery, left="baseline", right="fwl")
    w.quality.value = 3
    w.position.value = 0.25
    view = w.view()
    assert (view[:, :3] == 63).all()  # baseline q3 on the left quarter
    assert (view[:, 5:] == 183).all()  # fwl q3 on the right
    assert "baseline" in w.readout.value and "fwl" in w.readout.value
    assert "0.3000" in w.readout.value and "33.00" in w.readout.value
    assert w.picture.value[:8] == b"\x89PNG\r\n\x1a\n"
    w.right.value = "iwl"
    assert (w.view()[:, 5:] == 123).all()
    w.zoom.value = 4
    assert w.view().shape == (16, 16, 3)


def test_widget_reports_a_missing_combination(gallery):
    table = gallery.table[~((gallery.table.method == "iwl") & (gallery.table.quality == 3))]
    w = widgets.ComparisonWidget(widgets.Gallery(table, gallery.originals), right="iwl")
    w.quality.value = 3
    assert "no reconstruction" in w.readout.value


def test_gallery_from_folder_joins_metrics(tmp_path):
    save_png(tmp_path / "ms-ssim" / "iwl" / "q2" / "a.png", np.zeros((8, 8, 3), np.uint8))
    metrics = pd.DataFrame([dict(image="a", method="iwl", family="ms-ssim", quality=2, bpp=0.5,
                                 psnr=31.0, ms_ssim=0.95, jod=8.1)])
    g = widgets.gallery_from_folder(tmp_path, metrics, {"a": "a.png"})
    assert g.table.iloc[0]["bpp"] == 0.5
    with pytest.raises(FileNotFoundError):
        widgets.gallery_from_folder(tmp_path / "none", metrics, {})
