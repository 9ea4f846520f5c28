"""``jndlc compress`` and ``jndlc decompress``: an image to a file and back.

    jndlc compress IMAGE -o OUT --model FOLDER [--quality R | --step S] [--target jnd]
    jndlc compress IMAGE -o OUT --codec jpeg [--quality QF] [--preprocessor NAME] [--target jnd]
    jndlc decompress FILE -o IMAGE.png [--model FOLDER]

A learned codec's ``--model`` is a model's folder (a run's or a base model's: one trained
quality, ``--step`` coarsens its latent step) or a family folder holding
``<method>-<distortion>-q<quality>/`` (``--quality`` is then the continuous quality r
between its trained qualities). ``--target jnd`` searches the lowest rate whose decoded
image stays within the JND (ColorVideoVDP JOD >= 10 - tau). Every error is one line;
the output is written atomically, so a failure leaves nothing behind.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

COMMANDS = ("compress", "decompress")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """The two commands, on ``jndlc``'s sub-parsers."""
    from ..data.labellers import DEFAULT_DISPLAY

    p = sub.add_parser("compress", help="an image to a learned-codec file or a JPEG")
    p.add_argument("image")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--codec", choices=["learned", "jpeg"], default=None,
                   help="default: learned with --model, else jpeg")
    p.add_argument("--model", default=None, help="a model's folder, or a family folder (with --distortion)")
    p.add_argument("--distortion", default="mse", choices=["mse", "ms-ssim"], help="a family folder's models")
    p.add_argument("--quality", type=float, default=None,
                   help="JPEG quality factor 1-100, or the learned family's continuous quality")
    p.add_argument("--step", type=float, default=None, help="latent quantisation step of one model (>= 1 coarser)")
    p.add_argument("--preprocessor", default=None, help="JPEG preprocessor: a shipped name, 'classical', 'classical-ssim' or a .pt file")
    p.add_argument("--target", choices=["jnd"], default=None, help="search the lowest rate within the JND")
    p.add_argument("--tau", type=float, default=1.0, help="JOD drop allowed (--target jnd)")
    p.add_argument("--display", default=DEFAULT_DISPLAY, help="ColorVideoVDP display model (--target jnd)")
    p.set_defaults(func=compress_command)

    p = sub.add_parser("decompress", help="a learned-codec file or a JPEG to a PNG")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--model", default=None, help="the model's folder (default: found by the file's digest)")
    p.set_defaults(func=decompress_command)


def _quiet() -> None:
    """No library deprecation chatter on a command's one line of output."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)


def _errors() -> tuple[type[BaseException], ...]:
    from . import anchors, fileformat, models
    from ..files import ImageError

    return (ImageError, fileformat.FormatError, models.ModelError, anchors.Unavailable, ValueError, OSError)


def _fail(command: str, error: BaseException) -> SystemExit:
    return SystemExit(f"jndlc {command}: {error}")


def read_image(path: str) -> np.ndarray:
    """The input as 8-bit RGB (grey expanded; alpha refused naming the file)."""
    from ..files import load_rgb

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such image")
    return load_rgb(path)


def compress_command(args: argparse.Namespace) -> None:
    from .compress import compress

    _quiet()
    try:
        coded, note = compress(read_image(args.image), args)
        _write(args.output, coded.data)
    except _errors() as e:
        raise _fail("compress", e) from None
    h, w = coded.rgb.shape[:2]
    print(f"{args.output}: {len(coded.data)} bytes, {coded.bpp:.4f} bpp ({w}x{h}; {note})")


def decompress_command(args: argparse.Namespace) -> None:
    from . import codecs as C
    from . import fileformat as FF
    from ..files import save_png

    _quiet()
    try:
        path = Path(args.file)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        data = path.read_bytes()
        if FF.is_jndc(data):
            header, _ = FF.unpack(data)
            rgb = C.decode_learned(data, C.model_for(header, args.model))
        elif data[:2] == b"\xff\xd8":
            rgb = _decode_jpeg(path)
        else:
            raise FF.FormatError(f"{path}: neither a jndlc file nor a JPEG")
        save_png(args.output, rgb)
    except _errors() as e:  # every message names the file
        raise _fail("decompress", e if str(args.file) in str(e) else f"{args.file}: {e}") from None
    print(f"{args.output}: {rgb.shape[1]}x{rgb.shape[0]}")


def _decode_jpeg(path: Path) -> np.ndarray:
    from ..files import load_rgb

    return load_rgb(path)  # Pillow, as the evaluation decodes; a truncated file is refused


def _write(path: str, data: bytes) -> None:
    from ..files import atomic_write

    atomic_write(path, lambda p: p.write_bytes(data))
