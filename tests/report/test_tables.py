import math

import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.report import tables as T
from jndlc_helpers.evaluation.bdrate import BD_COLUMNS
from jndlc_helpers.evaluation.bsjnd import SUMMARY_COLUMNS
from jndlc_helpers.config import PAPER_TABLE_I, PAPER_TABLE_II, profile, provenance, provenance_label

PROV = provenance(profile("quick"))


def bd_rows() -> pd.DataFrame:
    rows = []
    for key, (psnr, ms) in {"iwl-mse": (-3.0, -2.0), "fwl-mse": (-4.0, -1.5), "iwl-hinge-mse": (-6.0, -5.0)}.items():
        for metric, v in (("psnr", psnr), ("ms_ssim_db", ms)):
            for interp in ("cubic", "pchip"):
                for agg in ("average-curve", "per-image-mean"):
                    cubic = interp == "cubic" and key == "fwl-mse" and metric == "ms_ssim_db"
                    rows.append({"method": key[:-4], "family": "mse", "key": key, "anchor": "baseline",
                                 "metric": metric, "interpolation": interp, "aggregate": agg,
                                 "bd_rate": 40.0 if cubic else v, "low": v - 1, "high": v + 1,
                                 "interval": "bootstrap 95%", "n_images": 12, "n_used": 12, "n_boot": 100,
                                 "n_boot_failed": 3, "check": "cubic fit not monotone over the overlap (anchor)"
                                 if cubic else "", "reason": ""})
    for interp in ("pchip", "cubic"):
        rows.append({**rows[0], "key": "fwl-ms-ssim", "method": "fwl", "family": "ms-ssim", "bd_rate": math.nan,
                     "interpolation": interp, "low": math.nan, "high": math.nan, "interval": "",
                     "reason": "quality ranges overlap 20% < 50%"})
    return pd.DataFrame(rows, columns=BD_COLUMNS)


def test_table_i_side_by_side():
    t = T.table_i(bd_rows(), anchor="baseline", aggregate="average-curve")
    r = t.set_index(["key", "bd_metric"])
    assert r.loc[("iwl-mse", "PSNR"), "ours"] == -3.0
    assert r.loc[("iwl-mse", "PSNR"), "paper"] == PAPER_TABLE_I["iwl-mse"]["psnr"]
    assert r.loc[("iwl-mse", "PSNR"), "diff"] == pytest.approx(-3.0 - PAPER_TABLE_I["iwl-mse"]["psnr"])
    assert r.loc[("fwl-mse", "MS-SSIM (dB)"), "paper"] == PAPER_TABLE_I["fwl-mse"]["ms-ssim"]
    assert math.isnan(r.loc[("fwl-ms-ssim", "PSNR"), "ours"])
    assert "overlap" in r.loc[("fwl-ms-ssim", "PSNR"), "note"]
    assert r.loc[("iwl-ms-ssim", "PSNR"), "note"].startswith("not evaluated")
    assert math.isnan(r.loc[("iwl-hinge-mse", "PSNR"), "paper"])  # our variant: no paper value
    assert "no paper value" in r.loc[("iwl-hinge-mse", "PSNR"), "note"]
    # PCHIP is the headline; the cubic cross-check sits beside it with its flag
    assert r.loc[("fwl-mse", "MS-SSIM (dB)"), "ours"] == -1.5 and r.loc[("fwl-mse", "MS-SSIM (dB)"), "cubic"] == 40.0
    assert "not monotone" in r.loc[("fwl-mse", "MS-SSIM (dB)"), "cubic_check"]
    assert r.loc[("iwl-mse", "PSNR"), "interval"] == "bootstrap 95% (100 resamples, 3 failed)"
    assert list(t["key"][:8]) == [k for k in PAPER_TABLE_I for _ in range(2)]
    # every n/a of ours carries its reason
    assert (t.loc[t["ours"].isna(), "note"] != "").all() and (t.loc[t["paper"].isna(), "note"] != "").all()


def made_up_rd(n_images: int = 3) -> pd.DataFrame:
    """RD curves with known answers: iwl needs 0.9x the baseline's bits at every quality
    (BD-rate -10%); fwl sits 20 dB above both, so its curves do not overlap the baseline's."""
    rows = []
    for i in range(n_images):
        for method, rate, shift in (("baseline", 1.0, 0.0), ("iwl", 0.9, 0.0), ("fwl", 1.0, 20.0)):
            for q in range(1, 5):
                bpp = rate * 0.1 * 2 ** q
                rows.append({"image": f"im{i}", "method": method, "family": "mse", "quality": q, "bpp": bpp,
                             "psnr": 26 + 2.5 * q + 0.1 * i + shift, "ms_ssim_db": 10 + q + 0.1 * i + shift})
    return pd.DataFrame(rows)


def test_table_i_on_curves_with_a_known_shift():
    from jndlc_helpers.evaluation.bdrate import bd_rate_table

    bd = bd_rate_table(made_up_rd(), ["iwl", "fwl"], anchors=["baseline"], families=["mse"], n_boot=20)
    r = T.table_i(bd, anchor="baseline").set_index(["key", "bd_metric"])
    for metric in ("PSNR", "MS-SSIM (dB)"):
        assert r.loc[("iwl-mse", metric), "ours"] == pytest.approx(-10.0, abs=1e-6)  # fewer bits: negative
        assert r.loc[("iwl-mse", metric), "cubic"] == pytest.approx(-10.0, abs=1e-6)
        assert math.isnan(r.loc[("fwl-mse", metric), "ours"])
        assert "overlap" in r.loc[("fwl-mse", metric), "note"]  # the n/a says why


def test_write_table_i_contents(tmp_path):
    paths = T.write_table_i(bd_rows(), tmp_path / "table1", PROV, anchor="baseline",
                            aggregate="per-image-mean")
    assert set(paths) == {"csv", "md", "tex"}
    label = provenance_label(PROV)
    csv, md, tex = (paths[k].read_text() for k in ("csv", "md", "tex"))
    for text in (csv, md):
        assert label in text
        assert "anchor 'baseline'" in text and "per-image-mean" in text and "PCHIP" in text
        assert "labeller" in text or "proxy JND labels" in text
        assert "overlap by >= 50%" in text and "averaged over images" in text and "cubic" in text
    for key in PAPER_TABLE_I:
        for v in PAPER_TABLE_I[key].values():
            assert f"{v:.2f}" in md and f"{v:.2f}" in tex
    assert "per-image-mean" in tex and "PCHIP" in tex and "\\caption{" in tex
    back = pd.read_csv(paths["csv"], comment="#")  # the caption is a comment line
    assert list(back.columns)[:4] == ["key", "bd_metric", "ours", "low"]
    assert back["paper"].dropna().tolist()[:2] == [PAPER_TABLE_I["iwl-mse"]["psnr"], PAPER_TABLE_I["iwl-mse"]["ms-ssim"]]


def test_table_ii_and_writers(tmp_path):
    summary = pd.DataFrame([
        {"method": "iwl", "family": "mse", "key": "iwl-mse", "baseline": "baseline", "metric": "psnr",
         "interpolation": "pchip", "mean": -7.5, "median": -7.0, "low": -9.0, "high": -6.0,
         "interval": "per-image range", "n_boot": 0, "n_images": 6, "n_used": 5, "n_out_of_range": 1,
         "status": "baseline: q_J above the curve (1 image)"},
        {"method": "fwl", "family": "mse", "key": "fwl-mse", "baseline": "baseline", "metric": "psnr",
         "interpolation": "pchip", "mean": math.nan, "median": math.nan, "low": math.nan, "high": math.nan,
         "interval": "", "n_boot": 0, "n_images": 2, "n_used": 0, "n_out_of_range": 2,
         "status": "fwl: q_J below the curve (2 images)"},
        {"method": "iwl", "family": "mse", "key": "iwl-mse", "baseline": "baseline", "metric": "jod",
         "interpolation": "pchip", "mean": -3.0, "median": -3.0, "low": -4.0, "high": -2.0,
         "interval": "per-image range", "n_boot": 0, "n_images": 6, "n_used": 6, "n_out_of_range": 0,
         "status": ""},
    ], columns=SUMMARY_COLUMNS)
    t = T.table_ii(summary)
    r = t[t["metric"] != T.JOD_ROW_LABEL].set_index("key")
    assert r.loc["iwl-mse", "ours"] == -7.5 and r.loc["iwl-mse", "paper"] == PAPER_TABLE_II["iwl-mse"]
    assert r.loc["iwl-mse", "diff"] == pytest.approx(-7.5 - PAPER_TABLE_II["iwl-mse"])
    assert r.loc["iwl-mse", "n_out_of_range"] == 1
    assert np.isnan(r.loc["fwl-ms-ssim", "ours"])
    assert "left out: baseline: q_J above the curve (1 image)" in r.loc["iwl-mse", "note"]
    assert r.loc["fwl-mse", "note"] == "no image in range: fwl: q_J below the curve (2 images)"
    assert r.loc["fwl-ms-ssim", "note"].startswith("not evaluated")
    jod = t[t["metric"] == T.JOD_ROW_LABEL].iloc[0]
    assert jod["key"] == "iwl-mse" and jod["ours"] == -3.0 and "ours, not the paper's" in jod["note"]
    assert (t.loc[t["ours"].isna() | t["paper"].isna(), "note"] != "").all()
    prov = {**PROV, "jod_display": "standard_fhd"}
    paths = T.write_table_ii(summary, tmp_path / "t2", prov)
    md = paths["md"].read_text()
    for row_note in t["note"]:
        assert T.latex_escape(row_note) in paths["tex"].read_text() and row_note in md
    assert "display model 'standard_fhd'" in md
    fwl = pd.read_csv(paths["csv"], comment="#").set_index("key").loc["fwl-mse", "note"]
    assert "F = NLPD" in fwl  # the quick profile's offline feature extractor
    assert provenance_label(prov) in md and "'baseline'" in md
    for v in PAPER_TABLE_II.values():
        assert f"{v:.2f}" in md and f"{v:.2f}" in paths["tex"].read_text()
    assert "-7.50" in md and "pchip" in md


def test_latex_is_escaped_and_has_a_fallback():
    df = pd.DataFrame({"key": ["iwl_mse"], "ours": [1.234], "paper": [float("nan")]})
    for tex in (T.to_latex(df, "a_b 5%"), T._plain_latex(df, "a_b 5%")):
        assert "iwl\\_mse" in tex and "1.23" in tex and "n/a" in tex
        assert "\\caption{a\\_b 5\\%}" in tex
        assert "\\begin{tabular}" in tex
    assert T.describe({"profile": "paper", "labeller": "human (VideoSet JND1)"}).endswith(
        "labeller=human (VideoSet JND1)")


def test_results_markdown_summarises_a_published_run(tmp_path):
    from jndlc_helpers.report.tables import results_markdown, write_table

    for name, rows in (
        ("table1_bd_rate", [dict(key="fwl-mse", bd_metric="PSNR", ours=-3.5, low=-4.7, high=-2.2)]),
        ("table1_bd_rate_vs_finetuned", [dict(key="fwl-mse", bd_metric="PSNR", ours=-0.09, low=-0.3, high=0.1,
                                              seeds=3, differs=False)]),
        ("table2_bs_jnd", [dict(key="fwl-mse", metric="psnr", ours=-3.3, low=-4.8, high=-1.9, n_used=11,
                                n_images=13)]),
    ):
        write_table(pd.DataFrame(rows), tmp_path / name, f"caption of {name}")
    md = results_markdown(tmp_path)
    row = [line for line in md.splitlines() if line.startswith("| fwl-mse")][0].split(" | ")
    assert row[1:4] == ["-3.50 [-4.7, -2.2]", "-", "-0.09 [-0.3, 0.1]"]
    assert row[5] == "-5.80 / -4.10" and row[6] == "-3.30 [-4.8, -1.9] (11 of 13)" and row[7] == "-"
    assert row[8] == "-9.25 |"


def test_table_ii_has_the_common_image_column_and_names_the_jod_target():
    from jndlc_helpers.evaluation import bsjnd

    summary = pd.DataFrame([
        {"method": "iwl", "family": "mse", "key": "iwl-mse", "baseline": "baseline-pretrained", "metric": "psnr",
         "interpolation": "pchip", "mean": -20.0, "median": -20.0, "low": -25.0, "high": -15.0,
         "interval": "per-image range", "n_boot": 0, "n_images": 4, "n_used": 3, "n_out_of_range": 1,
         "status": "", "mean_common": -18.0, "n_common": 2}], columns=bsjnd.SUMMARY_COLUMNS)
    t = T.table_ii(summary, "baseline-pretrained").set_index("key")
    assert (t.loc["iwl-mse", "common"], t.loc["iwl-mse", "n_common"]) == (-18.0, 2)
    human = {"labeller": "human (VideoSet JND1)", "jod_display": "standard_fhd", "jod_threshold": 9.0}
    assert "JOD of that image's JND1 image" in T.jod_text(human)
    assert "JOD = 9 (10 - tau" in T.jod_text({**human, "labeller": "cvvdp"})


def test_effects_markdown_bolds_only_what_survives_holm(tmp_path):
    import json

    from jndlc_helpers.report.tables import effects_markdown

    row = dict(seeds=3, low=0.5, high=2.0, bs_jnd_vs_control=1.0, bs_jnd_low=-0.5, bs_jnd_high=2.5)
    d = {"effects": [dict(method="pwl", metric="mse", bd_rate_vs_control=1.2, holm=True, bs_jnd_holm=False, **row),
                     dict(method="fwl", metric="ms-ssim", bd_rate_vs_control=0.4, holm=False, bs_jnd_holm=False,
                          feature_share=0.0123, **row)],
         "control_noise_floor": {"mse/psnr": {"max_abs": 1.15}}}
    (tmp_path / "e.json").write_text(json.dumps(d))
    text = effects_markdown(tmp_path / "e.json")
    assert "| pwl | 3 | **+1.20 [+0.50, +2.00]** | +1.00 [-0.50, +2.50] |" in text
    assert "| fwl | 3 | n/a | n/a |  | +0.40 [+0.50, +2.00] |" in text and "1.23%" in text
    assert "*1.15*" in text and "*nan*" in text


def test_effects_markdown_names_the_qualities_of_a_partial_row(tmp_path):
    import json

    from jndlc_helpers.report.tables import effects_markdown

    row = dict(metric="mse", seeds=1, low=0.5, high=2.0, bd_rate_vs_control=1.2, holm=False)
    d = {"qualities": [1, 3, 5, 7], "control_noise_floor": {},
         "effects": [dict(method="pwl", qualities=[1, 3, 5, 7], **row), dict(method="fwl", qualities=[1, 3], **row)]}
    (tmp_path / "e.json").write_text(json.dumps(d))
    text = effects_markdown(tmp_path / "e.json")
    assert "| pwl | 1 | +1.20" in text and "| fwl | 1 (q1,3 only) | +1.20" in text


def test_a_partial_row_and_an_fwl_variant_say_what_they_are():
    """Table I's note names a row's qualities when it has fewer than the table's others, and
    an FWL variant's input or calibration (``config.METHOD_VARIANTS``)."""
    bd = bd_rows().assign(qualities="1,3,5,7")
    partial = bd[bd["key"] == "fwl-mse"].assign(key="fwl-share10-mse", method="fwl-share10", qualities="1,3")
    caffe = bd[bd["key"] == "fwl-mse"].assign(key="fwl-caffe-mse", method="fwl-caffe")
    t = T.table_i(pd.concat([bd, partial, caffe]), anchor="baseline", features="vgg16-hed").set_index(
        ["key", "bd_metric"])
    note = t.loc[("fwl-share10-mse", "PSNR"), "note"]
    assert "qualities 1, 3 only (of 1, 3, 5, 7)" in note and "10% of D" in note
    assert "Caffe's input" in t.loc[("fwl-caffe-mse", "PSNR"), "note"]
    assert "only" not in t.loc[("fwl-mse", "PSNR"), "note"] and "Caffe" not in t.loc[("fwl-mse", "PSNR"), "note"]
    assert T.partial_note(pd.Series({"qualities": 1.0}), pd.DataFrame({"qualities": ["1", "1,3"]})) \
        == "qualities 1 only (of 1, 3)"  # a lone quality read back from a CSV as a number
