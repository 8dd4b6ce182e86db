"""Every command's --help, as GIS staff meet it: plain text (no reStructuredText, Markdown
or rich markup) that ends with examples of that very command."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

from cityaware.api.cli import build_parser

MARKUP = re.compile(r"`|\*\*|:(func|mod|class|meth):|\[/?(bold|red|green|dim)\]|<[a-z]+>")


def every_parser(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command words, parser) for the program and each (nested) sub-command."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_parser(sub, (*path, name))


def test_every_help_is_plain_text_with_an_example_of_its_command():
    walked = list(every_parser(build_parser()))
    assert len(walked) > 15  # the program, its commands and their actions
    for path, parser in walked:
        text = parser.format_help()
        assert not MARKUP.search(text), (path, MARKUP.search(text))
        examples = text.split("examples:\n", 1)
        assert len(examples) == 2, f"cityaware {' '.join(path)} --help has no examples"
        lines = [line.strip() for line in examples[1].splitlines() if line.strip()]
        assert lines and all(line.startswith("cityaware ") for line in lines), (path, lines)
        assert any(line.startswith(" ".join(("cityaware", *path))) for line in lines), path


def test_help_prints_the_same_through_a_pipe():
    shown = subprocess.run([sys.executable, "-m", "cityaware.api.cli", "import", "--help"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert shown == build_parser()._subparsers._group_actions[0].choices["import"].format_help()
