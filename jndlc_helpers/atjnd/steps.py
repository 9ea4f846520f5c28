"""What notebook 08 calls: the predictor's training labels and fit, the hyperparameters
chosen on the training images (the fixed QF, the SSIM target), every method on the test
images judged by both judges, the table "bits to look unchanged", the figure of bpp per
image, the comparison gallery and the benchmark's numbers.

Everything lives under ``<run_dir>/atjnd/``: ``training_labels.csv``, ``predictor.json``,
``per_image/<image>.csv`` (resumable), ``recon/<method>/<image>.png``, ``results.csv``;
the table and figure go to the run's ``figures/`` as ``atjnd_*``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from ..files import PACKAGE_PARENT, atomic_write, read_json, write_json, write_text
from . import methods as ME

SUMMARY_COLUMNS = ["method", "n", "bpp_mean", "bpp_median", "within_jnd_jod", "within_jnd_psnr",
                   "within_jnd_second_judge", "jod_excess_mean", "encode_s"]


def atjnd_params(params: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The run's params with this step's knobs (``atjnd_*``, profile knobs) and ``overrides``."""
    from ..jpeg.steps import jpeg_params

    defaults = {k: v for k, v in config.profile(params["profile"]).items() if k.startswith("atjnd_")}
    return jpeg_params({**defaults, **params}, **overrides)


def path(P: dict[str, Any], *parts: str) -> Path:
    return Path(P["run_dir"]).joinpath("atjnd", *parts)


def _repo(p: str) -> Path:
    return Path(p) if Path(p).is_absolute() else PACKAGE_PARENT / p


def model_refs(P: dict[str, Any]):
    """The family the learned codec codes with: ``atjnd_models``, else the profile's base
    models, else (CompressAI's zoo weights) the run's own trained models."""
    from . import models as MD

    folder = P["atjnd_models"] or P["pretrained"]
    if not P["atjnd_models"] and not (isinstance(folder, str) and Path(folder).is_dir()):
        folder = str(Path(P["run_dir"]) / "models")  # CompressAI's weights: the run's own models (02)
    if not Path(folder).is_dir():
        raise ValueError(f"atjnd_models: {folder!r} is not a folder of trained models; pass -p atjnd_models=FOLDER")
    return MD.family(folder, P["atjnd_distortion"])


def _labels_key(P: dict[str, Any], refs) -> dict[str, Any]:
    return {"models": [r.digest for r in refs], "tau": P["jnd_tau"], "crop": P["atjnd_crop"],
            "crops_per_image": P["atjnd_crops_per_image"], "display": P["atjnd_display"]}


def training_labels(P: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The predictor's labelled examples: the profile's shipped table where it was made
    with the same models and knobs, completed (or made) in the run folder."""
    from . import training as T

    refs = model_refs(P)
    key, out = _labels_key(P, refs), path(P, "training_labels.csv")
    shipped = _repo(P["atjnd_labels"]) if P.get("atjnd_labels") else None
    if not out.is_file() and shipped is not None and shipped.is_file():
        sidecar = shipped.with_suffix(".json")
        if sidecar.is_file() and read_json(sidecar) == key:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(shipped.read_bytes())
        elif progress:
            print(f"{P['atjnd_labels']} was made with other models or knobs: labelling here", flush=True)
    exs = T.examples(T.training_photos(P["data_root"], P.get("unlabelled_root")), P["atjnd_crop"],
                     P["atjnd_crops_per_image"])
    from ..parallel import training_workers

    table = T.build(exs, refs, out, P["jnd_tau"], P["atjnd_display"], training_workers(P), progress)
    write_json(out.with_suffix(".json"), key)
    return table


def fit_predictors(P: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    """The JPEG and learned predictors (written to atjnd/predictor.json)."""
    from . import ladder as L
    from . import predictor as PR
    from . import training as T

    refs = model_refs(P)
    span = (refs[0].quality - 1.0, float(refs[-1].quality))
    human = T.human_qf(P["data_root"])
    preds = T.fit(table, span, P["atjnd_coverage"], human)
    PR.save(path(P, "predictor.json"), preds, {"labels": "human" if human else "closed loop (JOD)",
                                               "examples": len(table), "lowest_step": L.LOWEST_STEP})
    return preds


def choices(P: dict[str, Any], table: pd.DataFrame | None = None) -> dict[str, Any]:
    """Hyperparameters chosen on the training images only: the fixed QF (from the training
    images' JPEG labels, or, where the labels are not JPEG QFs (VideoSet's QPs), from the
    closed-loop QFs of the whole training photographs in ``table``) and the SSIM target."""
    from . import anchors as A
    from ..data.pairs import find_pairs
    from ..files import load_rgb

    labels = pd.read_csv(Path(P["data_root"]) / "labels.csv", dtype={"image": str})
    qfs = labels.loc[labels["split"] == "train", "qf"].dropna() if "qf" in labels else pd.Series(dtype=float)
    if qfs.empty and table is not None:
        qfs = table.loc[(table["top"] == 0) & (table["left"] == 0) & ~table["example"].str.contains("@"), "qf"]
    pairs = [(load_rgb(r), load_rgb(j)) for r, j in find_pairs(Path(P["data_root"]) / "train")]
    return {"fixed_qf": A.fixed_qf(qfs.astype(int), P["atjnd_coverage"]),
            "ssim_target": A.ssim_target(pairs, P["atjnd_coverage"])}


def setup(P: dict[str, Any], picked: dict[str, Any], guetzli: bool = True) -> ME.Setup:
    from . import judges as J

    return ME.Setup(tuple(model_refs(P)), P["atjnd_preprocessor"], str(path(P, "predictor.json")),
                    picked["fixed_qf"], picked["ssim_target"], P["jnd_tau"], P["atjnd_display"],
                    P["atjnd_second_judge"] or J.second_judge(), str(path(P, "recon")), guetzli)


def test_images(P: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(name, path, the JND image's PSNR) of every test image."""
    from ..data.pairs import find_pairs
    from ..evaluation.metrics import jnd_quality_table

    pairs = find_pairs(Path(P["data_root"]) / "test")
    jq = jnd_quality_table(pairs).set_index("image")
    return [(ref.stem, str(ref), float(jq.loc[ref.stem, "psnr"])) for ref, _ in pairs]


def run_methods(P: dict[str, Any], picked: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """Every method on every test image (images over ``parallel_runs`` processes;
    an image already done in this run folder is read back)."""
    from tqdm.auto import tqdm

    from .. import parallel

    images = test_images(P)
    n_guetzli = P["atjnd_guetzli_images"]
    tasks = [(n, p, q, setup(P, picked, n_guetzli is None or i < n_guetzli)) for i, (n, p, q) in enumerate(images)]
    todo = [t for t in tasks if not path(P, "per_image", f"{t[0]}.csv").is_file()]
    work = parallel.imap(ME.image_rows, todo, parallel.few_in_process(todo, parallel.training_workers(P)), threads=1)
    for _, rows in tqdm(work, total=len(todo), desc="at JND", disable=not progress):
        df = pd.DataFrame(rows)
        target = path(P, "per_image", f"{rows[0]['image']}.csv")
        atomic_write(target, lambda p: df.to_csv(p, index=False, float_format="%.8g"))
    table = pd.concat([pd.read_csv(path(P, "per_image", f"{n}.csv"), dtype={"image": str}) for n, _, _ in images],
                      ignore_index=True)
    table.to_csv(path(P, "results.csv"), index=False, float_format="%.8g")
    return table


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per method: bpp (mean, median), fractions within the JND by each judge (an image a
    method could not code counts as missed), mean JOD excess, encode seconds per image."""
    out = []
    for method in ME.METHODS:
        g = rows[rows["method"] == method]
        if g.empty:
            continue
        ran = g[g["bpp"].notna()]
        frac = (lambda col: float(ran[col].astype(bool).sum() / len(g))) if len(ran) else (lambda col: float("nan"))
        out.append({"method": method, "n": len(ran), "bpp_mean": ran["bpp"].mean(), "bpp_median": ran["bpp"].median(),
                    "within_jnd_jod": frac("within_jod"), "within_jnd_psnr": frac("within_psnr"),
                    "within_jnd_second_judge": frac("within_second"),
                    "jod_excess_mean": ran.loc[ran["within_jod"].astype(bool), "jod_excess"].mean(),
                    "encode_s": ran["encode_s"].mean()})
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def provenance(P: dict[str, Any]) -> dict[str, Any]:
    from ..pipeline import prov

    out = prov({**P, "jod": True})
    out["data"] = out["data"].replace(" (1:1)", " (the predictor's training photographs)")
    refs = model_refs(P)
    out["model"] = (f"{refs[0].architecture} (N={refs[0].N}, M={refs[0].M}) {P['atjnd_distortion']} base models "
                    f"q{','.join(str(r.quality) for r in refs)} with a latent-step continuous rate")
    out["budget"] = "no training (fixed models; ridge predictor on closed-loop labels of training crops)"
    return out


def table_markdown(P: dict[str, Any], table: pd.DataFrame, rows: pd.DataFrame, picked: dict[str, Any]) -> str:
    """The table "bits to look unchanged" with its caveats and encode seconds per image, as
    notebook 08 shows it. The copy written to figures/atjnd_bits.{csv,md} leaves the
    seconds out (wall time differs run to run, a published table must not): they stay in
    the run's ``atjnd/results.csv`` and ``at_jnd.json``."""
    label = config.provenance_label(provenance(P))
    from . import judges as J

    judge = rows["second_judge"].dropna().iloc[0] if rows["second_judge"].notna().any() else "n/a"
    if judge in J.THRESHOLDS:
        judge = f"{judge} {'<=' if J.LOWER_IS_BETTER[judge] else '>='} {J.THRESHOLDS[judge]:g}"
    notes = sorted({f"{r.method}: {r.note}" for r in rows.itertuples() if isinstance(r.note, str) and r.note})

    def text(t: pd.DataFrame) -> str:
        return (f"**Bits to look unchanged** ({rows['image'].nunique()} test images; within JND: (a) JOD >= "
                f"{10 - P['jnd_tau']:g} and PSNR >= the JND image's, (b) {judge}; fixed QF {picked['fixed_qf']} and "
                f"SSIM target {picked['ssim_target']:.4f} chosen on the training images)\n\n"
                f"{t.to_markdown(index=False, floatfmt='.3f')}\n\n"
                + "".join(f"- {n}\n" for n in notes) + f"\n*{label}*\n")

    published = table.drop(columns="encode_s")
    fig = Path(P["run_dir"]) / "figures"
    atomic_write(fig / "atjnd_bits.csv", lambda p: published.to_csv(p, index=False, float_format="%.4f"))
    write_text(fig / "atjnd_bits.md", text(published))
    return text(table)


def run(P: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    """Every step above, in order: the tables, the figure and the benchmark's numbers
    (also written to atjnd/at_jnd.json)."""
    from . import report

    labels = training_labels(P, progress)
    preds = fit_predictors(P, labels)
    picked = choices(P, labels)
    rows = run_methods(P, picked, progress)
    table = summary(rows)
    label = config.provenance_label(provenance(P))
    out = {"picked": picked, "rows": rows, "table": table, "markdown": table_markdown(P, table, rows, picked),
           "figure": report.figure_bpp(P, rows, label), "numbers": report.numbers(P, rows, table, preds, label)}
    save_numbers(P, out["numbers"], picked)
    return out


def save_numbers(P: dict[str, Any], numbers: dict[str, Any], picked: dict[str, Any]) -> Path:
    """The benchmark's numbers and the choices made on the training images: atjnd/at_jnd.json."""
    return write_json(path(P, "at_jnd.json"), {**numbers, **picked})


def gallery(P: dict[str, Any], rows: pd.DataFrame):
    """The comparison widget's gallery: each test image's original and at-JND decodes."""
    from . import report

    return report.gallery(rows, {n: p for n, p, _ in test_images(P)}, path(P, "recon"))
