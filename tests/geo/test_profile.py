"""The city profile: defaults derived from the boundaries, a TOML file over them (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import CRS

from cityaware.geo.crs import metric_crs_for
from cityaware.geo.errors import InvalidInput
from cityaware.geo.profile import derive_profile, load_profile, read_overrides
from cityaware.geo.resources import demo_city_files
from tests.two_cities import district_outlines, division_list


@pytest.mark.parametrize("lon", np.linspace(73.6, 134.7, 40))
def test_the_metric_crs_is_the_gauss_krueger_zone_of_the_longitude(lon):
    crs = CRS.from_user_input(metric_crs_for(float(lon)))
    central = crs.coordinate_operation.params[1].value
    assert "3-degree Gauss-Kruger CM" in crs.name
    assert abs(lon - central) <= 1.5 + 1e-9  # the zone whose central meridian is nearest


def test_two_cities_derive_their_names_prefixes_extent_and_crs():
    outlines = district_outlines()
    profile = derive_profile(outlines, division_list(), tuple(outlines.total_bounds))
    assert profile.names == ("开封市", "洛阳市") and profile.city_name == ""
    assert {"开封市", "开封", "洛阳市", "洛阳", "河南省", "河南"} <= set(profile.prefixes)
    assert not any("郑州" in word for word in profile.prefixes)
    west, _, east, _ = outlines.total_bounds
    assert profile.metric_crs == metric_crs_for((west + east) / 2)
    assert profile.zones == () and profile.centre is None


def test_the_toml_overrides_the_derived_profile(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text(
        '[city]\nnames = ["开封市"]\nsearch_placeholder = "hint"\n'
        "[map]\ncentre = [34.8, 114.3]\nzoom = 11\n"
        '[[zones]]\ncode = "410271"\nnames = ["开封经济技术开发区", "开封经开区"]\n',
        encoding="utf-8",
    )
    profile = load_profile(path, district_outlines(), division_list())
    assert profile.names == ("开封市",) and profile.city_name == "开封市"
    assert profile.centre == (34.8, 114.3) and profile.zoom == 11
    assert profile.zone("410271").name == "开封经济技术开发区"
    assert "洛阳" not in profile.prefixes and "开封" in profile.prefixes


def test_a_bad_profile_says_what_is_wrong(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text("[city\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not a valid TOML"):
        read_overrides(path)
    path.write_text('[city]\nnames = "开封市"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="city.names must be a list"):
        load_profile(path, district_outlines())


def test_the_demo_profile_is_shipped_data_with_its_zones():
    units = district_outlines().iloc[0:0]
    profile = load_profile(demo_city_files()[0], units, pd.DataFrame())
    assert {z.code for z in profile.zones} >= {"410171", "410172", "410173"}
    zone = profile.zone_of_street("410105560")
    assert zone is not None and zone.host == "410105"
