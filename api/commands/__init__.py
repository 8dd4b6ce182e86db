"""The ``cityaware`` sub-commands, one module each (see :mod:`cityaware.api.cli`).

Each module's ``add_parser(subparsers)`` registers its parser and sets ``func``. Help is
plain text (what a terminal shows as is) and ends with examples.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="cityaware")
>>> sub = add_command(parser.add_subparsers(), "hello", "say hello", ["cityaware hello"])
>>> sub.format_help().splitlines()[-2:]
['examples:', '  cityaware hello']
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TypeAlias

# What ``parser.add_subparsers()`` returns (generic only to the type checker).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_command(
    subparsers: Subparsers,
    name: str,
    summary: str,
    examples: Sequence[str],
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Register the sub-command ``name``: ``summary`` in the command list, ``description``
    (default: the summary) above its options and ``examples`` below them."""
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return subparsers.add_parser(
        name,
        help=summary,
        description=description or summary,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def progress_bar(**options: Any) -> Any:
    """A tqdm bar on stderr, drawn only when stderr is a terminal: a log or a pipe gets no
    redraws (the command's summary line says what was done)."""
    from tqdm import tqdm

    return tqdm(file=sys.stderr, disable=not sys.stderr.isatty(), **options)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    """Add the ``--data-dir`` option every data-touching command takes."""
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data directory (default: $CITYAWARE_DATA_DIR, else ./cityaware-data)",
    )
