"""The Kodak Lossless True Color Image Suite (24 PNGs), for the paper's visual figures.

Downloaded only on request, for users who are online; files already present are kept.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from tqdm.auto import tqdm

from ..files import atomic_write, list_images

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/kodim{index:02d}.png"
KODAK_NAMES = tuple(f"kodim{i:02d}.png" for i in range(1, 25))
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class DownloadError(RuntimeError):
    """A download that failed; the message says how to get the files by hand."""


def kodak_paths(dest: str | os.PathLike = "data/kodak") -> list[Path]:
    """The 24 Kodak files in ``dest``; raises ``FileNotFoundError`` naming the missing ones."""
    dest = Path(dest)
    missing = [n for n in KODAK_NAMES if not (dest / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{dest}: {len(missing)} Kodak image(s) missing (e.g. {missing[0]}); "
                                f"run jndlc_helpers.data.kodak.fetch_kodak({str(dest)!r}) or download "
                                f"kodim01..24.png from {KODAK_URL.format(index=1).rsplit('/', 1)[0]}/")
    return [dest / n for n in KODAK_NAMES]


def fetch_kodak(dest: str | os.PathLike = "data/kodak", url: str = KODAK_URL, timeout: float = 30.0,
                progress: bool = True) -> Path:
    """Download kodim01..24.png into ``dest`` (skipping files already there); returns ``dest``.

    ``url`` is a format string with ``{index}`` (1..24). Each file is checked to be a
    PNG and written atomically. Offline, raises ``DownloadError`` saying where to put
    the files by hand.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    todo = [(i, n) for i, n in enumerate(KODAK_NAMES, start=1) if not (dest / n).is_file()]
    for index, name in tqdm(todo, desc="Kodak", unit="img", disable=not progress or not todo):
        src = url.format(index=index)
        try:
            with urlopen(src, timeout=timeout) as resp:
                data = resp.read()
        except (URLError, OSError) as e:
            raise DownloadError(
                f"could not download {src} ({e}). Without internet, download the 24 Kodak images "
                f"(kodim01.png .. kodim24.png, from https://r0k.us/graphics/kodak/) by hand into "
                f"{dest.resolve()}") from e
        if not data.startswith(_PNG_MAGIC):
            raise DownloadError(f"{src}: the server did not return a PNG ({len(data)} bytes); "
                                f"download {name} by hand into {dest.resolve()}")
        atomic_write(dest / name, lambda p, d=data: p.write_bytes(d))
    return dest


if __name__ == "__main__":  # python -m jndlc_helpers.data.kodak [dest]
    import sys

    print(fetch_kodak(sys.argv[1] if len(sys.argv) > 1 else "data/kodak"))


def first_image(root: str | os.PathLike) -> Path:
    """The first image of a Kodak folder (Figs. 3-4's, as in the paper)."""
    images = list_images(root)
    if not images:
        raise FileNotFoundError(f"kodak_root={str(root)!r} holds no images; "
                                "python -m jndlc_helpers fetch-kodak --dest DIR")
    return images[0]
