"""``cityaware geocode``: a Chinese address -> grid (or the coarser level that is safe).

cityaware geocode "开封市龙亭区中山路12号院3号楼2单元501"
cityaware geocode "绿城花园东门" "鼓楼区书店街88号" --json

Uses the active boundary generation of the data directory; without one, the
bundled demo city (data/boundaries/zhengzhou-demo.gpkg).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from cityaware.api.commands import Subparsers, add_command, add_data_dir
from cityaware.api.settings import Settings
from cityaware.geo.resources import demo_boundaries

if TYPE_CHECKING:
    from cityaware.geo.gazetteer.build import Gazetteer
    from cityaware.geo.gazetteer.result import GeocodeResult


def add_parser(subparsers: Subparsers) -> None:
    parser = add_command(
        subparsers,
        "geocode",
        "find the grid of a Chinese address",
        ('cityaware geocode "开封市龙亭区中山路12号院3号楼2单元501"',
         'cityaware geocode "绿城花园东门" "龙亭区北书店街88号" --json'),
        "Find the grid of each address (or the coarser unit that is certain), with the\n"
        "candidates. Uses the active boundary generation of the data directory; without\n"
        "one, the bundled demo city.",
    )  # fmt: skip
    parser.add_argument("addresses", nargs="+", metavar="ADDRESS", help="free-text address")
    parser.add_argument("--limit", type=int, default=5, help="candidates to show (default 5)")
    parser.add_argument("--json", action="store_true", help="print the full answers as JSON")
    add_data_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from cityaware.geo.errors import InvalidInput

    if any(not text.strip() for text in args.addresses):
        raise InvalidInput("address is empty")
    gazetteer = _gazetteer(settings)
    results = [gazetteer.geocode(text, limit=args.limit) for text in args.addresses]
    if args.json:
        records = [r.to_dict() for r in results]
        print(
            json.dumps(records[0] if len(records) == 1 else records, ensure_ascii=False, indent=2)
        )
        return 0
    for result in results:
        print(_describe(result, gazetteer.unit_names))
    return 0


def _gazetteer(settings: Settings) -> Gazetteer:
    """The data directory's active gazetteer, else the bundled demo city's."""
    from cityaware.api.context import AppContext

    ctx = AppContext(settings)
    if ctx.registry.active() is not None:
        return ctx.gazetteer.current()
    from cityaware.geo.boundaries.io import read_hierarchy_gpkg
    from cityaware.geo.engine.locator import GridLocator
    from cityaware.geo.gazetteer.build import DEMO_POINTS, Gazetteer
    from cityaware.geo.profile import load_profile
    from cityaware.geo.resources import demo_city_files

    print(f"no active boundaries in {settings.data_dir}; using the demo city", file=sys.stderr)
    cache = settings.data_dir / "cache"
    units = read_hierarchy_gpkg(demo_boundaries())
    locator = GridLocator.build(units, "demo", cache_dir=cache)
    profile = load_profile(demo_city_files()[0], units)
    return Gazetteer.load_or_build(units, locator, "demo", cache, DEMO_POINTS, profile)


def _describe(result: GeocodeResult, names: dict[str, str]) -> str:
    """Human-readable answer: the verdict, then one line per candidate."""
    lines = [f"{result.query}"]
    verdict = f"  {result.status}"
    if result.level:
        verdict += f" · level {result.level}"
    verdict += f" · grid {result.grid_code or '-'} · confidence {result.confidence:.2f}"
    if result.flags:
        verdict += f" · {', '.join(result.flags)}"
    lines.append(verdict)
    for rank, c in enumerate(result.candidates, 1):
        chain = " › ".join(
            names.get(code, code)
            for code in (c.district_code, c.street_code, c.community_code)
            if code
        )
        where = f"{c.lon:.5f},{c.lat:.5f}" if c.lon is not None else "-"
        lines.append(
            f"  {rank}. {c.name} ({c.level}) grid {c.grid_code or '-'} · {chain or '-'} · {where}"
            f" · {c.confidence:.2f} · matched {c.matched_text!r}"
        )
    if result.components:
        lines.append("  components: " + " ".join(f"{k}={v}" for k, v in result.components.items()))
    return "\n".join(lines)
