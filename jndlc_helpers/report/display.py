"""What a notebook shows: a written figure, read back from its PNG."""
from __future__ import annotations

import os


def png(path: str | os.PathLike):
    """The PNG at ``path`` as an IPython image (a notebook cell's output)."""
    from IPython.display import Image

    return Image(filename=str(path))
