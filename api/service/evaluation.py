"""考评 and matters over HTTP.

    GET   /v1/evaluation?by=street&since=...&until=...   figures per unit (JSON)
    GET   /v1/evaluation.csv?by=office                   the same as CSV
    GET   /v1/matters?category=&grid=&since=&until=&min_count=2
    GET   /v1/matters/{id}                               a matter and its cases
    PATCH /v1/matters/{id}  {"status": "dispatched", "note": ...}   applies to every case

The window bounds the cases' ``reported_at`` (ISO 8601, inclusive).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.responses import json_response
from cityaware.api.service.auth import ApiKey
from cityaware.api.service.casework import parse_at
from cityaware.api.service.limits import check_content_length
from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.hotline.evaluation import FIGURES, GROUPS, evaluate
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.casework import case_frame as store_case_frame
from cityaware.geo.store.taxonomy import check_transition
from cityaware.geo.store.times import from_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.geo.store.store import FeatureStore


class MatterChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(..., max_length=32, description="the status every case moves to")
    note: str | None = Field(None, max_length=1000)


def case_frame(
    store: FeatureStore, since: str | None, until: str | None, **filters: Any
) -> pd.DataFrame:
    """The incidents of a window (reported_at) with their hotline fields."""
    return store_case_frame(store, FeatureFilter(since=since, until=until, **filters))


def _iso(text: str | None, name: str) -> str | None:
    return None if not text else from_ms(parse_at(text))


def figures(
    store: FeatureStore, by: str, since: str | None, until: str | None, now: int
) -> list[dict[str, Any]]:
    """The evaluation figures per ``by`` unit over the window."""
    if by not in GROUPS:
        raise InvalidInput(f"by must be one of {', '.join(GROUPS)}, not {by!r}")
    frame = case_frame(store, _iso(since, "since"), _iso(until, "until"))
    return evaluate(frame, by, now) if len(frame) else []


def matters(frame: pd.DataFrame, min_count: int) -> list[dict[str, Any]]:
    """Matters of the cases in ``frame`` with at least ``min_count`` cases, largest first."""
    frame = frame[frame["matter"].notna()]
    out = []
    for matter, cases in frame.groupby("matter", sort=False):
        if len(cases) < min_count:
            continue
        out.append(
            {
                "id": matter,
                "category": cases["category"].iloc[0],
                "count": len(cases),
                "open": int(cases["status"].isin(("received", "dispatched", "in_progress")).sum()),
                "grids": sorted(set(cases["grid_code"].dropna())),
                "centre": [float(cases["lon"].mean()), float(cases["lat"].mean())],
                "first_reported_at": from_ms(int(cases["reported_at"].min())),
                "last_reported_at": from_ms(int(cases["reported_at"].max())),
                "cases": cases["id"].tolist(),
            }
        )
    return sorted(out, key=lambda m: (-m["count"], m["id"]))


def change_matter(store: FeatureStore, matter: str, change: MatterChange) -> dict[str, Any]:
    """Move every case of a matter to ``change.status``; nothing moves if one cannot."""
    frame = case_frame(store, None, None)
    found = [m for m in matters(frame, 1) if m["id"] == matter]
    if not found:
        raise NotFound(f"no matter {matter!r}")
    statuses = dict(zip(frame["id"], frame["status"], strict=True))
    for case in found[0]["cases"]:
        check_transition(statuses[case], change.status)  # all checked before any moves
    note = f"matter {matter}: " + (change.note or change.status)
    for case in found[0]["cases"]:
        if statuses[case] != change.status:
            store.update("incidents", case, {"status": change.status}, note=note)
    return found[0] | {"status": change.status}


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["hotline"])
    readable = [Depends(ctx.access.read())]
    window = {
        "since": Query(None, max_length=40, description="ISO 8601, inclusive"),
        "until": Query(None, max_length=40, description="ISO 8601, inclusive"),
    }

    @router.get("/v1/evaluation", summary="考评 figures per unit", dependencies=readable)
    def evaluation_json(
        by: str = Query("street", description="office, street, district or grid"),
        since: str | None = window["since"],
        until: str | None = window["until"],
        now: str | None = Query(None, max_length=40, description="overdue as of (default now)"),
    ) -> Response:
        rows = figures(ctx.store, by, since, until, parse_at(now))
        return json_response({"by": by, "since": since, "until": until, "figures": FIGURES,
                              "units": rows})  # fmt: skip

    @router.get("/v1/evaluation.csv", summary="考评 figures per unit, CSV", dependencies=readable)
    def evaluation_csv(
        by: str = Query("street"),
        since: str | None = window["since"],
        until: str | None = window["until"],
        now: str | None = Query(None, max_length=40),
    ) -> Response:
        rows = figures(ctx.store, by, since, until, parse_at(now))
        buffer = io.StringIO()
        pd.DataFrame(rows, columns=[by, *FIGURES]).to_csv(buffer, index=False)
        return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")

    @router.get(
        "/v1/matters", summary="Matters: close cases of one category", dependencies=readable
    )
    def list_matters(
        category: str | None = Query(None, max_length=64),
        grid: str | None = Query(None, max_length=32, description="matters touching this grid"),
        since: str | None = window["since"],
        until: str | None = window["until"],
        min_count: int = Query(2, ge=1, le=10_000),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Response:
        wanted = ctx.store.taxonomy.check_category(category) if category else None
        frame = case_frame(ctx.store, _iso(since, "since"), _iso(until, "until"),
                           category=wanted, region=grid)  # fmt: skip
        return json_response({"matters": matters(frame, min_count)[:limit]})

    @router.get("/v1/matters/{matter_id}", summary="One matter", dependencies=readable)
    def get_matter(matter_id: str) -> Response:
        found = [m for m in matters(case_frame(ctx.store, None, None), 1) if m["id"] == matter_id]
        if not found:
            raise NotFound(f"no matter {matter_id!r}")
        return json_response(found[0])

    @router.patch("/v1/matters/{matter_id}", summary="Move every case of a matter",
                  dependencies=[Depends(check_content_length)])  # fmt: skip
    def patch_matter(
        matter_id: str,
        change: MatterChange,
        _key: ApiKey = Depends(ctx.access.require("incidents.update")),
    ) -> Response:
        return json_response(change_matter(ctx.store, matter_id, change))

    return router
