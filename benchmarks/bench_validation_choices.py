"""Every choice made on the validation images, beside the one made before on the test images.

Three choices shape the results: the fine-tuning learning rate (``bench_control_shift.py``),
the standard profile's budget (``bench_control_convergence.py``) and the JPEG preprocessors'
recipe (``bench_jpeg_preprocessing.py --recipe-validation``). Each was first made by looking at
the 13 test images; each benchmark now makes it on the validation images
(``data/validation``, disjoint from train and test by source) with the same rule, and writes
``<name>_validation.json`` beside the earlier ``<name>.json``. This collects them: per choice
the candidates, the value chosen on the validation images, the value chosen before, and
whether they agree. A choice whose validation benchmark has not run yet is listed as not
measured (``agree`` null), never counted either way.

    python benchmarks/bench_validation_choices.py
"""
from __future__ import annotations

import json
from pathlib import Path

from common import RESULTS, write_result


class NotMeasured(Exception):
    """A benchmark's result file is missing."""


def read(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise NotMeasured(f"benchmarks/results/{name}.json is missing: run its benchmark (see this file's docstring)")
    return json.loads(path.read_text())


def measured(choice, name: str) -> dict:
    """``choice()``, or a row saying it is not measured yet and why."""
    try:
        return choice()
    except NotMeasured as e:
        return {"choice": name, "chosen_on_validation": None, "chosen_before": None, "agree": None,
                "status": f"not measured: {e}"}


def lr_choice() -> dict:
    """The learning rate: the one whose control gains most at the quick budget (each family in its own metric)."""
    from bench_control_shift import choose_lr, own_metric_mean

    before, val = read("control_shift"), read("control_shift_validation")
    steps = val["quick_steps"]
    candidates = [{"lr": e["lr"], "steps": e["steps"], "score_validation": round(own_metric_mean(e), 3)}
                  for e in val["entries"] if e["steps"] == steps]
    chosen_before = choose_lr(before["entries"], steps)
    return {"choice": "fine-tuning learning rate", "rule": val["rule"], "candidates": candidates,
            "chosen_on_validation": val["chosen_lr"], "chosen_before": chosen_before,
            "agree": val["chosen_lr"] == chosen_before, "in_use": before["quick_lr"]}


def budget_choice() -> dict:
    """The standard profile's budget: where the control's BD-rate against its base models settles."""
    before, val = read("control_convergence"), read("control_convergence_validation")
    candidates = [{"steps": b, **{f: round(val["bd_rate"][f][i], 3) for f in val["bd_rate"]}}
                  for i, b in enumerate(val["budgets"])]
    return {"choice": "fine-tuning budget (steps)", "rule": val["criterion"], "candidates": candidates,
            "chosen_on_validation": val["chosen_steps"], "chosen_before": before["chosen_steps"],
            "agree": val["chosen_steps"] == before["chosen_steps"]}


def jpeg_recipe_choice() -> dict:
    """The JPEG preprocessors' training recipe."""
    val = read("jpeg_recipe_validation")
    return {"choice": "JPEG preprocessor recipe", "rule": val.get("rule", ""), "candidates": val["candidates"],
            "chosen_on_validation": val["chosen_on_validation"], "chosen_before": val["chosen_before"],
            "agree": bool(val["agree"])}


def main() -> None:
    choices = [measured(lr_choice, "fine-tuning learning rate"), measured(budget_choice, "fine-tuning budget (steps)"),
               measured(jpeg_recipe_choice, "JPEG preprocessor recipe")]
    agree = sum(c["agree"] is True for c in choices)
    for c in choices:
        print(f"{c['choice']}: validation {c['chosen_on_validation']}, before {c['chosen_before']}, "
              f"agree {c['agree']}", flush=True)
    write_result(
        "validation_choices", metric="choices that the validation images confirm", unit="choices", value=agree,
        baseline="choices measured on the validation images so far",
        baseline_value=sum(c["agree"] is not None for c in choices), higher_is_better=True,
        command="python benchmarks/bench_validation_choices.py", choices=choices,
        validation_images="data/validation: 12 images of 4 photographs, disjoint from train and test by source "
                          "(jndlc_helpers/data/validation.py), proxy JND labels (ColorVideoVDP)",
    )


if __name__ == "__main__":
    main()
