"""The comparison widget in a real JupyterLab, driven by Debian's chromium through Playwright.

tests/test_widgets.py checks the widget's logic without a browser; this test checks that
it actually renders in JupyterLab 4 (ipywidgets front end, image, sliders, readout) and
that moving the wipe slider and changing a dropdown in the page reach the kernel and
come back as a new picture and a new readout.

Needs /usr/bin/chromium (``apt-get install chromium``); skipped without it. Playwright's
own browser download is never used. Set ``JNDLC_SCREENSHOT=path.png`` to save a
screenshot of the page with the widget (figures/widget_jupyterlab.png was made so).
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from jndlc_helpers.files import save_png

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_S = 60  # JupyterLab answering /api/status
RENDER_S = 90  # kernel start + imports + widget render, on a busy 2-core machine
STEP_S = 20  # any one reaction of the page to an interaction

# Solid colours, far apart, so that a pixel says which reconstruction it comes from.
COLOURS = {"baseline": (200, 40, 40), "iwl": (40, 190, 40), "fwl": (40, 40, 210)}
BPP = {"baseline": 0.25, "iwl": 0.21, "fwl": 0.17}  # times the quality: 0.2500, 0.2100, 0.1700 at q1

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} absent (apt-get install chromium)"),
]


def _write_gallery(root: Path) -> Path:
    """A 64x64 'reconstruction' per method and quality, and the notebook that shows them."""
    rows = []
    for method, rgb in COLOURS.items():
        for q in (1, 3):
            path = root / "recon" / "mse" / method / f"q{q}" / "img.png"
            save_png(path, np.broadcast_to(np.array(rgb, np.uint8) + q, (64, 64, 3)).copy())
            rows.append(dict(image="img", method=method, family="mse", quality=q, path=str(path),
                             bpp=round(BPP[method] * q, 4), psnr=30.0 + q, ms_ssim=0.9, jod=None))
    import nbformat

    source = (
        "import pandas as pd\n"
        "from jndlc_helpers import widgets\n"
        f"rows = {rows!r}\n"
        "gallery = widgets.Gallery(pd.DataFrame(rows).astype({'jod': float}), {'img': rows[0]['path']})\n"
        "w = widgets.ComparisonWidget(gallery, left='baseline', right='fwl')\n"
        "display(w.widget)\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb_path = root / "gallery.ipynb"
    nbformat.write(nb, nb_path)
    return nb_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 rooted at tmp_path, isolated from the user's
    settings and workspaces; yields (base_url, token); always stopped afterwards."""
    port, token = _free_port(), secrets.token_hex(16)
    state = tmp_path / ".jupyter-state"
    settings = state / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # No "would you like news?" toast over the page, no update check (offline machine).
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ,
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               JUPYTER_CONFIG_DIR=str(state / "config"),
               JUPYTER_RUNTIME_DIR=str(state / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
               PYDEVD_DISABLE_FILE_VALIDATION="1")
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
           "--ServerApp.allow_root=True", "--ServerApp.disable_check_xsrf=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log_path = tmp_path / "jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    with no_proxy.open(f"{base}/api/status?token={token}", timeout=5) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, OSError):
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer in {SERVER_START_S}s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.5)
            yield base, token
        finally:
            proc.terminate()  # SIGTERM: the server shuts its kernels down and exits
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _pixels(locator) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot(timeout=STEP_S * 1000))).convert("RGB"))


def _colour_at(img: np.ndarray, fx: float) -> np.ndarray:
    """Mean colour of a small patch at fraction fx of the width, mid-height."""
    h, w = img.shape[:2]
    x, y = int(fx * (w - 1)), h // 2
    return img[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3].reshape(-1, 3).mean(axis=0)


def _is(colour: np.ndarray, method: str, q: int = 1, tol: float = 12) -> bool:
    return bool(np.abs(colour - (np.array(COLOURS[method]) + q)).max() <= tol)


def _expect_colours(picture, expected: dict[float, str]) -> None:
    """Wait (bounded) until the shown picture has, at each fraction of its width, the
    colour of the given method's reconstruction (quality 1)."""
    deadline = time.monotonic() + STEP_S
    while True:
        img = _pixels(picture)
        seen = {fx: _colour_at(img, fx).round() for fx in expected}
        if all(_is(seen[fx], m) for fx, m in expected.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"picture colours {seen}, expected {expected} ({COLOURS})")
        time.sleep(0.25)


@pytest.mark.timeout(240)
def test_comparison_widget_renders_and_reacts_in_jupyterlab(tmp_path, lab):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    nb_path = _write_gallery(tmp_path)
    base, token = lab
    t0 = time.monotonic()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(STEP_S * 1000)
            page.goto(f"{base}/lab/tree/{nb_path.name}?token={token}", timeout=60_000)
            cell = page.locator(".jp-Notebook .jp-CodeCell").first
            expect(cell).to_be_visible(timeout=60_000)
            # Wait for the kernel to be up (status bar, not the toolbar indicator, which says
            # idle while the kernel is still initializing): running earlier can pop up the
            # "Select Kernel" dialog instead of running.
            expect(page.locator(".jp-StatusBar-Widget", has_text="| Idle").first
                   ).to_be_visible(timeout=RENDER_S * 1000)

            # Run > Run All Cells, as a user would.
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()

            out = page.locator(".jp-OutputArea-output").first
            readout = out.locator("table.jndlc-readout")
            try:
                expect(readout).to_be_visible(timeout=RENDER_S * 1000)
            except AssertionError as e:
                shown = out.inner_text(timeout=1000) if out.count() else "(no output)"
                raise AssertionError(f"widget readout not rendered; cell output:\n{shown[-3000:]}") from e
            expect(out.locator(".widget-slider")).to_have_count(5)  # quality, wipe, zoom, zoom x, zoom y
            expect(out.locator(".widget-dropdown select")).to_have_count(4)  # image, family, left, right
            picture = out.locator("img.widget-image")
            expect(picture).to_be_visible()
            page.wait_for_function("img => img.complete && img.naturalWidth === 64",
                                   arg=picture.element_handle(), timeout=STEP_S * 1000)

            # Readout: both methods and their bpp at quality 1.
            rows = readout.locator("tr")
            expect(rows).to_have_count(3)
            expect(rows.nth(1)).to_contain_text("baseline")
            expect(rows.nth(1)).to_contain_text(f"{BPP['baseline']:.4f}")
            expect(rows.nth(2)).to_contain_text("fwl")
            expect(rows.nth(2)).to_contain_text(f"{BPP['fwl']:.4f}")

            # The wipe at 0.5: baseline on the left, fwl on the right.
            _expect_colours(picture, {0.15: "baseline", 0.85: "fwl"})
            src0 = picture.get_attribute("src")

            # Move the wipe with the keyboard: End puts the boundary at the right edge.
            wipe = out.locator(".widget-slider", has=page.locator("label", has_text=re.compile(r"^wipe$")))
            readout_value = wipe.locator(".widget-readout")
            handle = wipe.locator(".noUi-handle")
            handle.focus()
            handle.press("End")
            expect(readout_value).to_have_text("1.00")
            expect(picture).not_to_have_attribute("src", src0)
            _expect_colours(picture, {0.15: "baseline", 0.85: "baseline"})

            handle.press("Home")
            expect(readout_value).to_have_text("0.00")
            _expect_colours(picture, {0.15: "fwl", 0.85: "fwl"})

            # Right method -> iwl: the readout and the right side follow.
            right = out.locator(".widget-dropdown", has=page.locator("label", has_text=re.compile(r"^right$")))
            right.locator("select").select_option("iwl")
            expect(rows.nth(2)).to_contain_text("iwl")
            expect(rows.nth(2)).to_contain_text(f"{BPP['iwl']:.4f}")
            expect(readout).not_to_contain_text("fwl")
            _expect_colours(picture, {0.15: "iwl", 0.85: "iwl"})  # wipe still at 0: all right side

            # Arrow keys, step 0.01: the boundary back to 0.30, baseline | iwl.
            handle.focus()
            for _ in range(30):
                handle.press("ArrowRight")
            expect(readout_value).to_have_text("0.30")
            _expect_colours(picture, {0.10: "baseline", 0.85: "iwl"})

            if shot := os.environ.get("JNDLC_SCREENSHOT"):
                Path(shot).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=shot)
        finally:
            browser.close()
    assert time.monotonic() - t0 < 180
