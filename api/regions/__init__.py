"""Region endpoints (``/v1/regions/{code}``: record, geometry, children, features, stats)
and recurring-category hotspots (``/v1/hotspots``).

Everything is computed from the same providers as the OGC API, so a region's
``/features`` takes exactly the filters of ``/collections/{id}/items``; the
statistics and hotspots themselves are computed in :mod:`geo.analysis`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import geopandas as gpd
import orjson
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cityaware.api.context import AppContext
from cityaware.api.ogc.crs import CRS84, check_crs
from cityaware.api.ogc.geojson import collection_bytes, feature_bytes
from cityaware.api.ogc.items import Cursor, Limit, Offset, items_response
from cityaware.api.ogc.params import DEFAULT_LIMIT, ItemParams, item_params
from cityaware.api.ogc.providers import BoundaryProvider
from cityaware.api.ogc.store_provider import StoreProvider
from cityaware.api.ogc.web import GEOJSON, link
from cityaware.api.regions.units import Units, record, simplified
from cityaware.api.responses import json_response
from cityaware.geo.analysis.hotspots import HotspotQuery, find_hotspots
from cityaware.geo.analysis.stats import region_stats
from cityaware.geo.boundaries.schema import LEVEL_OF_LAYER
from cityaware.geo.errors import InvalidInput
from cityaware.geo.predicates import parse_instant
from cityaware.geo.store.times import from_ms

Generation = Annotated[str | None, Query(description="boundary generation id (default: active)")]
Kind = Annotated[str, Query(description="collection id: incidents, cameras, sensors, grids, ...")]


def _zone_names(ctx: AppContext, generation: str | None) -> dict[str, str]:
    """Functional zone code -> official name, from the generation's city profile."""
    generation = generation or ctx.registry.active()
    zones = ctx.profiles.get(generation).zones if generation else ()
    return {zone.code: zone.name for zone in zones}


def build_router(ctx: AppContext) -> APIRouter:
    """Region and hotspot routes."""
    catalog = ctx.catalog
    router = APIRouter(prefix="/v1", tags=["regions"], dependencies=[Depends(ctx.access.read())])

    def units() -> Units:
        providers = {level: catalog.get(layer).provider for layer, level in LEVEL_OF_LAYER.items()}
        boundaries = {k: p for k, p in providers.items() if isinstance(p, BoundaryProvider)}
        return Units(boundaries, lambda generation: _zone_names(ctx, generation))

    @router.get("/regions/{code}", summary="A unit (any level) or functional zone")
    def region(request: Request, code: str, generation: Generation = None) -> Response:
        lookup = units()
        body = record(lookup.unit(code, generation), len(lookup.children(code, generation)))
        base = f"/v1/regions/{code}"
        body["links"] = [
            link(request, base, "self", "application/json", generation=generation),
            link(request, base + "/geometry", "geometry", GEOJSON, generation=generation),
            link(request, base + "/children", "children", GEOJSON, generation=generation),
            link(request, base + "/features", "items", GEOJSON, kind="incidents"),
            link(request, base + "/stats", "stats", "application/json", kind="incidents"),
        ]
        if body["parent_code"]:
            parent = f"/v1/regions/{body['parent_code']}"
            body["links"].append(link(request, parent, "up", "application/json"))
        return json_response(body)

    @router.get("/regions/{code}/geometry", summary="The unit's outline as a GeoJSON Feature")
    def geometry(
        code: str,
        generation: Generation = None,
        simplify: Annotated[
            float | None, Query(ge=0, description="simplification tolerance in metres")
        ] = None,
        crs: Annotated[str | None, Query(description="output CRS (default CRS84)")] = None,
    ) -> Response:
        crs_uri = check_crs(crs, "crs")
        unit = simplified(units().unit(code, generation), simplify)
        feature = feature_bytes(unit[["id", "name", "level", "geometry"]], crs_uri)[0]
        return Response(feature, media_type=GEOJSON, headers={"Content-Crs": f"<{crs_uri}>"})

    @router.get("/regions/{code}/children", summary="Units one level below, as GeoJSON")
    def children(code: str, generation: Generation = None) -> Response:
        frame = units().children(code, generation)
        features = feature_bytes(frame[["id", "code", "name", "level", "geometry"]], CRS84)
        body = collection_bytes(features, {"numberMatched": len(frame), "parent": code})
        return Response(body, media_type=GEOJSON)

    @router.get("/regions/{code}/features", summary="Features inside the region (items filters)")
    def features(
        request: Request,
        code: str,
        params: Annotated[ItemParams, Depends(item_params)],
        kind: Kind = "incidents",
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
        cursor: Cursor = None,
    ) -> Response:
        units().unit(code, params.query.generation)  # 404 for an unknown code
        collection = catalog.get(kind)
        params.query.region, params.query.cursor = code, cursor
        path = f"/v1/regions/{code}/features"
        return items_response(request, collection, params, limit, offset, path)

    @router.get("/regions/{code}/stats", summary="Counts, top grids, closure and on-time rates")
    def stats(
        code: str,
        params: Annotated[ItemParams, Depends(item_params)],
        kind: Kind = "incidents",
        sla_hours: Annotated[float, Query(gt=0, le=1e5, description="on-time limit (hours)")] = 72,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> Response:
        units().unit(code, params.query.generation)
        provider = catalog.get(kind).provider
        if not isinstance(provider, StoreProvider):
            raise InvalidInput(
                f"stats need a feature kind (incidents, cameras, sensors), not {kind}"
            )
        params.query.region = code
        filters = provider.feature_filter(params.query)
        body = {"region": code, **region_stats(ctx.store, kind, filters, sla_hours, top)}
        names = units().providers["grid"].frame(params.query.generation).set_index("code")["name"]
        for grid in body.get("top_grids_by_open", []):
            grid["grid_name"] = names.get(grid["grid_code"])
        return json_response(body)

    @router.get("/hotspots", summary="Grids where one category keeps coming back (see docs)")
    def hotspots(
        request: Request,
        end: Annotated[
            str | None, Query(description="end of the window, ISO 8601 (default: now)")
        ] = None,
        window_days: Annotated[int, Query(ge=1, le=90)] = 7,
        baseline_days: Annotated[int, Query(ge=7, le=365)] = 28,
        category: str | None = None,
        region: Annotated[str | None, Query(description="limit to a unit or zone code")] = None,
        min_count: Annotated[int, Query(ge=1)] = 3,
        min_days: Annotated[int, Query(ge=1)] = 2,
        alpha: Annotated[float, Query(gt=0, le=1, description="false discovery rate")] = 0.05,
        limit: Annotated[int, Query(ge=1, le=1000)] = 20,
        f: Annotated[
            Literal["json", "geojson"], Query(description="geojson: with grid outlines")
        ] = "json",
    ) -> Response:
        if region:
            units().unit(region)
        query = HotspotQuery(
            end_ms=_end_ms(end),
            window_days=window_days,
            baseline_days=baseline_days,
            category=category,
            region=region,
            min_count=min_count,
            min_days=min_days,
            alpha=alpha,
        )
        hot, tested = find_hotspots(ctx.store, query)
        grids = units().providers["grid"].frame().set_index("code")
        names = grids["name"]
        rows = []
        for row in hot.head(limit).to_dict("records"):
            rows.append(
                {
                    "grid_code": row["grid"],
                    "grid_name": names.get(row["grid"]),
                    "category": row["category"],
                    **{k: row[k] for k in ("window_count", "baseline_count", "days_with_cases")},
                    **{k: float(row[k]) for k in ("baseline_daily_mean", "expected", "ratio")},
                    "p_value": float(row["p_value"]),
                    "q_value": float(row["q_value"]),
                    "matters": f"/v1/matters?grid={row['grid']}&category={row['category']}"
                    f"&since={from_ms(query.window_start_ms)}&until={from_ms(query.end_ms)}",
                }
            )
        if f == "geojson":
            return _hotspot_features(rows, grids, query, tested)
        body = {
            "window": [from_ms(query.window_start_ms), from_ms(query.end_ms)],
            "baseline": [from_ms(query.baseline_start_ms), from_ms(query.window_start_ms)],
            "tested_pairs": tested,
            "method": "Poisson upper tail vs the grid's own baseline, Benjamini-Hochberg q-values",
            "hotspots": rows,
            "links": [link(request, "/v1/hotspots", "self", "application/json")],
        }
        return Response(
            orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
        )

    return router


def _hotspot_features(
    rows: list[dict[str, Any]], grids: gpd.GeoDataFrame, query: HotspotQuery, tested: int
) -> Response:
    """Hotspots as GeoJSON: one feature per (grid, category) with the grid's outline."""
    table = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["grid_code", "category"])
    table.insert(0, "id", table["grid_code"] + "-" + table["category"])
    frame = gpd.GeoDataFrame(table, geometry=grids.geometry.reindex(table["grid_code"]).values)
    members = {
        "window": [from_ms(query.window_start_ms), from_ms(query.end_ms)],
        "baseline": [from_ms(query.baseline_start_ms), from_ms(query.window_start_ms)],
        "tested_pairs": tested,
    }
    return Response(collection_bytes(feature_bytes(frame, CRS84), members), media_type=GEOJSON)


def _end_ms(text: str | None) -> int:
    if not text:
        return int(pd.Timestamp.now(tz="UTC").value // 1_000_000)
    return int(parse_instant(text, "end").value // 1_000_000)
