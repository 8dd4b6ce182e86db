"""OGC API - Tiles, TileJSON and the MapLibre style over the small staged city.

Oracles: mercantile (tile math independent of morecantile), shapely over the
registry's units, pandas over the stored incidents (cluster means and counts).
Each declared Tiles conformance class has a test here: core (tiles, 404s), tileset,
tilesets-list, geodata-tilesets (collection links), mvt, oas30 (paths in /api).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import mapbox_vector_tile
import mercantile
import morecantile
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from cityaware.api.ogc.tilesets import TILED, TILES_CONFORMANCE
from cityaware.layers.service import MIN_ZOOMS, POINT_LAYERS
from cityaware.layers.tiles import BIN_PX, EXTENT
from tests.api.ogc.conftest import EAST, NORTH, SOUTH, WEST

WMQ = "WebMercatorQuad"
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
CENTRE = ((WEST + EAST) / 2, (SOUTH + NORTH) / 2)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def fill(template: str, z: int, row: int, col: int) -> str:
    names = {"z": z, "y": row, "x": col, "tileMatrix": z, "tileRow": row, "tileCol": col}
    return path_of(re.sub(r"\{(\w+)\}", lambda m: str(names[m.group(1)]), template))


def decode(response) -> dict:
    return mapbox_vector_tile.decode(response.content, default_options={"y_coord_down": True})


def rel(links: list[dict], name: str) -> dict:
    return next(link for link in links if link["rel"] == name)


def test_landing_conformance_and_collections_link_the_tiles(client):
    landing = client.get("/").json()["links"]
    schemes = rel(landing, "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes")
    assert client.get(path_of(schemes["href"])).json()["tileMatrixSets"][0]["id"] == WMQ
    assert client.get(path_of(rel(landing, "stylesheet")["href"])).status_code == 200
    assert set(TILES_CONFORMANCE) <= set(client.get("/conformance").json()["conformsTo"])
    for doc in client.get("/collections").json()["collections"]:
        tiles = [x for x in doc["links"] if x["rel"].endswith("/tilesets-vector")]
        assert len(tiles) == (1 if doc["id"] in TILED else 0), doc["id"]
    assert client.get("/collections/cities/tiles").status_code == 404
    paths = client.get("/api").json()["paths"]
    assert "/collections/{collectionId}/tiles/{tileMatrixSetId}" in paths
    assert any(p.endswith("/{tileMatrix}/{tileRow}/{tileCol}") for p in paths)


def test_tile_matrix_sets_are_morecantiles(client):
    listed = client.get("/tileMatrixSets").json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == [WMQ]
    body = client.get(path_of(listed[0]["links"][0]["href"])).json()
    assert morecantile.TileMatrixSet.model_validate(body) == morecantile.tms.get(WMQ)
    missing = client.get("/tileMatrixSets/CGCS2000Quad")
    assert missing.status_code == 404 and "WebMercatorQuad" in missing.json()["description"]


def test_tileset_limits_cover_the_extent_by_mercantile(client):
    tilesets = client.get("/collections/grids/tiles").json()["tilesets"]
    assert [t["dataType"] for t in tilesets] == ["vector"]
    meta = client.get(path_of(rel(tilesets[0]["links"], "self")["href"])).json()
    assert meta["crs"].endswith("/EPSG/0/3857") and meta["tileMatrixSetURI"].endswith(WMQ)
    west, south = meta["boundingBox"]["lowerLeft"]
    east, north = meta["boundingBox"]["upperRight"]
    assert (west, south, east, north) == pytest.approx((WEST, SOUTH, EAST, NORTH))
    limits = {int(m["tileMatrix"]): m for m in meta["tileMatrixSetLimits"]}
    assert sorted(limits) == list(range(MIN_ZOOMS["grids"], 23))
    for z, limit in limits.items():
        top_left, bottom_right = mercantile.tile(west, north, z), mercantile.tile(east, south, z)
        assert (limit["minTileCol"], limit["minTileRow"]) == (top_left.x, top_left.y)
        assert (limit["maxTileCol"], limit["maxTileRow"]) == (bottom_right.x, bottom_right.y)
    (layer,) = meta["layers"]
    assert (layer["id"], layer["minTileMatrix"], layer["geometryDimension"]) == ("grids", "10", 2)
    assert rel(meta["links"], "item")["templated"] is True


def test_grid_tile_holds_the_grids_shapely_finds(ctx, client):
    meta = client.get(f"/collections/grids/tiles/{WMQ}").json()
    template = rel(meta["links"], "item")["href"]
    assert "{tileMatrix}/{tileRow}/{tileCol}" in template
    tile = mercantile.tile(*CENTRE, 13)
    response = client.get(fill(template, 13, tile.y, tile.x), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert response.headers["content-encoding"] == "gzip"
    codes = {f["properties"]["code"] for f in decode(response)["grids"]["features"]}
    grids = ctx.registry.units(level="grid")
    box = shapely.box(*mercantile.bounds(tile))
    assert codes == set(grids.loc[grids.intersects(box), "code"])


def test_tiles_outside_the_tileset_are_404_and_bad_filters_400(client):
    base = f"/collections/streets/tiles/{WMQ}"
    for z, row, col in [(MIN_ZOOMS["streets"] - 1, 0, 0), (23, 0, 0), (11, 0, 2048), (11, -1, 0)]:
        answer = client.get(f"{base}/{z}/{row}/{col}")
        assert answer.status_code == 404, (z, row, col)
        assert answer.json()["code"] == "NotFound"
    assert client.get("/collections/streets/tiles/Other/11/0/0").status_code == 404
    bad = client.get(f"/collections/incidents/tiles/{WMQ}/5/0/0?window=2y")
    assert bad.status_code == 400 and "window" in bad.json()["description"]


def test_tile_etag_and_304(client):
    tile = mercantile.tile(*CENTRE, 12)
    url = f"/collections/incidents/tiles/{WMQ}/12/{tile.y}/{tile.x}?window=all&status=all"
    first = client.get(url)
    assert first.status_code == 200 and first.content
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert (
        "content-encoding" not in plain.headers and plain.headers["etag"] != first.headers["etag"]
    )
    assert decode(plain) == decode(first)


def stored_points(ctx, kind: str) -> pd.DataFrame:
    rows = [r for batch in ctx.store.iter_features(kind) for r in batch]
    return pd.DataFrame(rows)


def test_clusters_sit_at_the_mean_of_their_points(ctx, client):
    """Below the detail zoom every bin is one feature at its members' mean (in tile pixels),
    its count and open count those of a pandas groupby over the stored incidents."""
    z = 11
    tile = mercantile.tile(*CENTRE, z)
    url = f"/collections/incidents/tiles/{WMQ}/{z}/{tile.y}/{tile.x}?window=all&status=all"
    features = decode(client.get(url))["incidents"]["features"]
    frame = stored_points(ctx, "incidents")
    tms = morecantile.tms.get(WMQ)
    left, bottom, right, top = tms.xy_bounds(morecantile.Tile(tile.x, tile.y, z))
    x, y = TO_MERCATOR.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    frame["px"] = (np.asarray(x) - left) / (right - left) * EXTENT
    frame["py"] = (top - np.asarray(y)) / (top - bottom) * EXTENT
    inside = frame[frame.px.between(0, EXTENT, "left") & frame.py.between(0, EXTENT, "left")]
    inside = inside.assign(
        cell=(inside.py // BIN_PX) * 100 + inside.px // BIN_PX,
        open=inside.status.isin(["received", "dispatched", "in_progress"]).astype(int),
    )
    oracle = inside.groupby("cell").agg(
        px=("px", "mean"), py=("py", "mean"), count=("id", "size"), open=("open", "sum")
    )
    got = pd.DataFrame(
        [
            {
                "px": f["geometry"]["coordinates"][0],
                "py": f["geometry"]["coordinates"][1],
                "count": f["properties"]["count"],
                "open": f["properties"]["open"],
                "cluster": f["properties"]["cluster"],
            }
            for f in features
        ]
    )
    assert (got["cluster"] == 1).all() and len(got) == len(oracle) > 1
    got["cell"] = (got.py // BIN_PX) * 100 + got.px // BIN_PX
    merged = oracle.join(got.set_index("cell"), rsuffix="_tile")
    assert (merged["count"] == merged["count_tile"]).all()
    assert (merged["open"] == merged["open_tile"]).all()
    assert np.allclose(merged[["px", "py"]], merged[["px_tile", "py_tile"]], atol=0.51)
    centres = (merged[["px", "py"]] // BIN_PX + 0.5) * BIN_PX
    assert not np.allclose(merged[["px_tile", "py_tile"]], centres, atol=1)


def test_tilejson_opens_every_layer(ctx, client):
    for collection in TILED:
        answer = client.get(f"/collections/{collection}/tiles/{WMQ}/tilejson.json")
        assert answer.status_code == 200, collection
        body = answer.json()
        assert body["tilejson"] == "3.0.0" and body["scheme"] == "xyz"
        (layer,) = body["vector_layers"]
        assert layer["id"] == collection and layer["minzoom"] == body["minzoom"]
        assert body["minzoom"] == MIN_ZOOMS.get(collection, 0) and body["maxzoom"] == 22
        z = max(body["minzoom"], 14)
        at = CENTRE
        if collection in POINT_LAYERS:
            at = tuple(stored_points(ctx, collection).iloc[0][["lon", "lat"]])
        tile = mercantile.tile(*at, z)
        url = fill(body["tiles"][0], z, tile.y, tile.x).replace("window=24h", "window=all")
        response = client.get(url)
        assert response.status_code == 200, url
        decoded = decode(response)
        assert list(decoded) == [collection]
        for feature in decoded[collection]["features"]:
            assert set(feature["properties"]) <= set(layer["fields"])


def test_incident_tilesets_publish_their_default_filters(client):
    body = client.get(f"/collections/incidents/tiles/{WMQ}/tilejson.json").json()
    filters = body["cityaware:filters"]
    assert {k: v["default"] for k, v in filters.items()} == {
        "window": "24h",
        "status": "open",
        "category": "",
    }
    assert body["tiles"][0].endswith("?window=24h&status=open")
    chosen = client.get(f"/collections/incidents/tiles/{WMQ}?window=7d&category=noise").json()
    assert chosen["cityaware:filters"]["window"]["value"] == "7d"
    assert rel(chosen["links"], "item")["href"].endswith("?window=7d&status=open&category=noise")


def test_styles_draw_every_tiled_collection(client):
    style = client.get("/styles/wall/style.json").json()
    assert style["version"] == 8 and set(style["sources"]) == set(TILED)
    drawn = {layer.get("source-layer") for layer in style["layers"]} - {None}
    assert drawn == set(TILED)
    for name, source in style["sources"].items():
        tilejson = client.get(path_of(source["url"])).json()
        assert tilejson["vector_layers"][0]["id"] == name
    assert style["metadata"]["cityaware:filters"]["status"]["default"] == "open"
    one = client.get(f"/collections/sensors/tiles/{WMQ}/style.json").json()
    assert [layer["id"] for layer in one["layers"]] == [
        "background",
        "sensors-clusters",
        "sensors-points",
    ]
