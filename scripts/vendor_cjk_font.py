"""Vendor the CJK font of the kiosk: Noto Sans SC (weight 400) from @fontsource/noto-sans-sc.

The npm package splits the font into unicode-range chunks (woff2); a browser
fetches only the chunks whose range holds a character the page shows. We keep
the chunks that cover ASCII, the 3,755 level-1 characters of GB2312 and every
character of the demo boundaries' names and the taxonomy, and write a CSS file
with their ``@font-face`` rules into ``layers/assets/noto_sans_sc/``.

    npm pack @fontsource/noto-sans-sc && tar xzf fontsource-noto-sans-sc-*.tgz
    .venv/bin/python scripts/vendor_cjk_font.py package/
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from cityaware.geo.boundaries.io import read_hierarchy_gpkg
from cityaware.geo.resources import demo_boundaries, shipped

OUT = Path(__file__).resolve().parents[1] / "layers/assets/noto_sans_sc"
FACE = re.compile(r"@font-face \{[^}]*?url\(\./files/([^)]+?-400-normal\.woff2)\)[^}]*?"
                  r"unicode-range: ([^;]+);[^}]*\}", re.S)  # fmt: skip


def characters() -> set[str]:
    """ASCII, GB2312 level 1, the demo city's unit names and the taxonomy's text."""
    chars = {chr(c) for c in range(0x20, 0x7F)}
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    units = read_hierarchy_gpkg(demo_boundaries())
    chars |= set("".join(units["name"].astype(str)))
    chars |= set(shipped("cityaware.geo.store", "hotline-taxonomy.json").read_text("utf-8"))
    chars |= set(Path(__file__).resolve().parents[1].joinpath("layers/kiosk.py").read_text())
    return chars


def ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        low, _, high = part.strip().removeprefix("U+").partition("-")
        out.append((int(low, 16), int(high or low, 16)))
    return out


def main(package: Path) -> None:
    chars = sorted(ord(c) for c in characters())
    OUT.mkdir(parents=True, exist_ok=True)
    rules, size = [], 0
    for file, unicode_range in FACE.findall((package / "400.css").read_text()):
        if any(lo <= c <= hi for lo, hi in ranges(unicode_range) for c in chars):
            shutil.copy(package / "files" / file, OUT / file)
            size += (OUT / file).stat().st_size
            rules.append("@font-face{font-family:'Noto Sans SC';font-style:normal;"
                         f"font-display:swap;font-weight:400;src:url(./{file}) format('woff2');"
                         f"unicode-range:{unicode_range};}}")  # fmt: skip
    (OUT / "noto-sans-sc.css").write_text("\n".join(rules) + "\n")
    shutil.copy(package / "LICENSE", OUT / "LICENSE")
    print(f"{len(rules)} chunks, {size / 1e6:.2f} MB, {len(chars)} characters wanted")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
