"""``cityaware geocode`` on the demo city (the session's caches make it quick)."""

from __future__ import annotations

import json

from cityaware.api.cli import main


def test_geocode_json(capsys, gazetteer, locator, cache_dir):
    road = next(e for e in gazetteer.entries if e.kind == "road" and e.district)
    number, row = sorted(road.numbers.items())[0]
    text = f"郑州市{gazetteer.unit_names[road.district]}{road.name}{number}号"
    assert main(["geocode", text, "--json", "--data-dir", str(cache_dir.parent)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == json.loads(json.dumps(gazetteer.geocode(text).to_dict(), ensure_ascii=False))
    if answer["grid_code"]:
        lon, lat = gazetteer.points.lon[row], gazetteer.points.lat[row]
        assert answer["grid_code"] == locator.locate(lon, lat).grid_code


def test_geocode_text_and_not_found(capsys, cache_dir):
    assert (
        main(["geocode", "北京市朝阳区建国路88号", "金水区", "--data-dir", str(cache_dir.parent)])
        == 0
    )
    out = capsys.readouterr().out
    assert "not_found" in out and "unknown_region" in out
    assert "matched · level district" in out


def test_geocode_empty_address_is_a_one_line_error(capsys, cache_dir):
    assert main(["geocode", "  ", "--data-dir", str(cache_dir.parent)]) == 2
    assert capsys.readouterr().err.strip() == "error: address is empty"
