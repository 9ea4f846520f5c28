"""The data step: build the profile's data set, or check a user's; every image decoded once."""
from __future__ import annotations

from pathlib import Path

from . import embedded, labellers, pairs


def prepare_data(data_root: str | None, build: str | None = None, labeller: str | None = None,
                 tau: float | None = None, progress: bool = True) -> Path:
    """Build the embedded (``build="embedded"``) or smoke (``"smoke"``) data set, or check
    the layout of a user's ``data_root``; decode every image once and refuse labels whose
    search failed. Returns the data root."""
    if build == "smoke":
        root = embedded.build_smoke(Path(data_root or "data/smoke"))
    elif build == "embedded":
        root = embedded.build_embedded(Path(data_root or "data/embedded"), labeller=labeller, tau=tau,
                                       progress=progress)
    elif not data_root or not Path(data_root).is_dir():
        raise FileNotFoundError(
            f"data_root={data_root!r} is not a folder: convert VideoSet (or another JND "
            "set) with jndlc_helpers.data.convert first and pass -p data_root=PATH"
        )
    else:
        root = Path(data_root)
    found = []
    for split in ("train", "test"):
        found += pairs.find_pairs(root / split)  # raises naming any bad file
    check_decodes([p for pair in found for p in pair], progress=progress, root=root)
    labellers.check_labels(root / "labels.csv")
    return root


def check_decodes(paths: list[Path], progress: bool = True, root: Path | None = None) -> None:
    """Decode every image once; raise ``ValueError`` naming each one that fails
    (a truncated PNG would otherwise surface hours later, in training)."""
    from PIL import Image
    from tqdm.auto import tqdm

    bad = []
    for path in tqdm(paths, desc="decode check", unit="img", disable=not progress):
        try:
            with Image.open(path) as im:
                im.load()
        except (OSError, ValueError, SyntaxError) as e:  # what Pillow raises on broken files
            bad.append(f"{_rel(path, root)}: {e}")
    if bad:
        raise ValueError(f"{len(bad)} of {len(paths)} image(s) do not decode: " + "; ".join(bad))


def _rel(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` when inside it (no machine paths in messages)."""
    try:
        return str(Path(path).relative_to(root)) if root else str(path)
    except ValueError:
        return str(path)
