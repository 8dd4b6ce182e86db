"""The ``cityaware`` sub-commands, one module each (see :mod:`cityaware.api.cli`).

Each module's ``add_parser(subparsers)`` registers its parser and sets ``func``.
"""

from __future__ import annotations

import argparse


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Add the ``--data-dir`` option every data-touching command takes."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $CITYAWARE_DATA_DIR, else ./cityaware-data)",
    )
