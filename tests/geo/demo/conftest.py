"""Shared fixtures: the committed demo GeoPackage, read once per test module."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from cityaware.geo.crs import metric_crs_of_bounds
from cityaware.geo.demo.city import DEFAULT_SHARED_DATA, DIVISIONS_FILE, LAYER_ORDER
from cityaware.geo.resources import demo_boundaries

DEMO_GPKG = demo_boundaries()
needs_shared_data = pytest.mark.skipif(
    not (DEFAULT_SHARED_DATA / DIVISIONS_FILE).exists(),
    reason=f"reference data {DEFAULT_SHARED_DATA} not present",
)


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return {layer: gpd.read_file(DEMO_GPKG, layer=layer) for layer in LAYER_ORDER}


@pytest.fixture(scope="module")
def metric(layers) -> dict[str, gpd.GeoDataFrame]:
    crs = metric_crs_of_bounds(layers[LAYER_ORDER[0]].to_crs(4326).total_bounds)
    return {name: frame.to_crs(crs) for name, frame in layers.items()}


@pytest.fixture(scope="module")
def divisions() -> pd.DataFrame:
    return pd.read_csv(DEFAULT_SHARED_DATA / DIVISIONS_FILE, dtype=str, keep_default_na=False)
