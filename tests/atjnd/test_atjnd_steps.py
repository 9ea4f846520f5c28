"""Notebook 08's table: every method's row, an image a method missed counted, never dropped."""
import math

import pandas as pd

from jndlc_helpers.atjnd import methods as ME
from jndlc_helpers.atjnd import steps


def _rows():
    rows = []
    for i, image in enumerate(["a", "b"]):
        for method in ME.METHODS:
            ran = not (method == "guetzli" and image == "b")
            rows.append({"image": image, "method": method, "bpp": 0.5 + i if ran else math.nan,
                         "within_jod": ran and not (method == "learned-closed-loop" and image == "b"),
                         "within_psnr": True, "within_second": False, "jod_excess": 0.1, "encode_s": 1.0})
    return pd.DataFrame(rows)


def test_summary_counts_misses_and_unrun_images_against_the_method():
    table = steps.summary(_rows()).set_index("method")
    assert list(table.index) == list(ME.METHODS)
    assert table.loc["learned-closed-loop", "within_jnd_jod"] == 0.5
    assert table.loc["guetzli", "n"] == 1 and table.loc["guetzli", "within_jnd_jod"] == 0.5
    assert table.loc["jpeg-closed-loop", "bpp_mean"] == 1.0 and table.loc["jpeg-closed-loop", "within_jnd_jod"] == 1.0
