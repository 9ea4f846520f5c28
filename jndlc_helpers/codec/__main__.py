"""``python -m jndlc_helpers.codec``: see ``cli.py``."""
import sys

from .cli import main

sys.exit(main())
