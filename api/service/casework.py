"""The hotline loop over HTTP: review queue, reply, callback, supervision, escalation.

    GET   /v1/review                       pending intakes, oldest first
    GET   /v1/review/{id}
    PATCH /v1/review/{id}                  {"category": "环境卫生", "address": "...", "note": ...}
                                           (or lon/lat/crs) -> the incident, dispatched
    POST  /v1/incidents/{id}/reply         {"note": "已清运"}            -> resolved
    POST  /v1/incidents/{id}/callback      {"satisfaction": "unsatisfied"} -> closed / re-opened
    POST  /v1/incidents/{id}/escalate      {"note": ...}  an overdue case, to the level above
    POST  /v1/supervision/scan?at=...      raise near/overdue events in the change feed
    GET   /v1/taxonomy                     categories with groups, codes, sub-categories

Illegal steps answer 409 and change nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.responses import json_response
from cityaware.api.service.auth import ApiKey
from cityaware.api.service.incidents import IncidentIn, review_view
from cityaware.api.service.limits import check_content_length
from cityaware.api.service.locate import CRS_HELP
from cityaware.geo.errors import Conflict, InvalidInput
from cityaware.geo.hotline import casework
from cityaware.geo.hotline.supervision import EVENT_OPS, OPEN, new_alerts
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.casework import case_event, close_review, get_review, list_reviews
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.api.service.incidents import Incidents

MAX_QUEUE = 1000


class ReviewDecision(BaseModel):
    """What a person decides for a queued intake: its category and its place."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(None, max_length=64, description="default: the machine's guess")
    lon: float | None = None
    lat: float | None = None
    crs: str | None = Field(None, max_length=100, description=CRS_HELP)
    address: str | None = Field(None, max_length=200)
    note: str | None = Field(None, max_length=1000)


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(..., min_length=1, max_length=2000, description="what the office did")


class Callback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    satisfaction: str = Field(..., max_length=16, description="satisfied, basically, unsatisfied")
    note: str | None = Field(None, max_length=1000)


class Escalation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=1000)


def parse_at(text: str | None) -> int:
    """Epoch ms of an ISO 8601 time (naive: UTC), or now.

    >>> parse_at("1970-01-01T00:00:01Z")
    1000
    """
    if not text:
        return now_ms()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"at must be an ISO 8601 time, not {text!r}") from None
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class Casework:
    """The loop's steps over the incidents service (and its store and duty list).

    ``clock()`` gives "now" in epoch ms (tests pass their own)."""

    def __init__(self, incidents: Incidents, clock: Any = now_ms) -> None:
        self.incidents, self.store, self.clock = incidents, incidents.store, clock

    def queue(self, limit: int = 100) -> list[dict[str, Any]]:
        return [review_view(i) for i in list_reviews(self.store, "pending", limit)]

    def review(self, id: str) -> dict[str, Any]:
        return review_view(get_review(self.store, id))

    def decide(self, id: str, decision: ReviewDecision) -> dict[str, Any]:
        """Turn a queued intake into an incident with the person's category and place."""
        item = get_review(self.store, id)
        if item["state"] != "pending":
            raise Conflict(f"review item {id!r} was already decided ({item['incident_id']})")
        analysis = item["analysis"]
        category = decision.category or analysis["category"]["id"]
        request = analysis.get("request") or {}
        has_point = decision.lon is not None and decision.lat is not None
        if not has_point and not decision.address:
            raise InvalidInput("give the place: lon, lat and crs, or an address")
        incident = IncidentIn(
            category=category, lon=decision.lon, lat=decision.lat, crs=decision.crs,
            address=decision.address, text=item["text"], channel=item["channel"] or "web",
            title=request.get("title"), priority=request.get("priority", "normal"),
        )  # fmt: skip
        guess = analysis["category"].get("id")
        note = decision.note or f"review: category {category} (machine: {guess}), place set"
        dispatch = {"mode": "review", "reason": analysis["dispatch"]["reason"], "note": note}
        view, _ = self.incidents.create(incident, None, dispatch=dispatch)
        close_review(self.store, id, view["id"], note)
        return view

    def _case(self, id: str) -> tuple[dict[str, Any], dict[str, Any]]:
        record = self.store.get("incidents", id)
        block = (record.get("attributes") or {}).get("hotline")
        if not block:
            raise Conflict(f"incident {id!r} has no hotline case (imported without deadlines)")
        return record, block

    def reply(self, id: str, body: Reply) -> dict[str, Any]:
        """The office's reply: the case goes to resolved with the note."""
        record, block = self._case(id)
        status = record["status"]
        if status not in ("dispatched", "in_progress"):
            raise Conflict(f"a reply resolves a dispatched or in-progress case, not a {status} one")
        attributes = {
            **record["attributes"],
            "hotline": casework.reply(block, body.note, self.clock()),
        }
        if status == "dispatched":
            self.store.update("incidents", id, {"status": "in_progress"}, note="accepted by office")
        self.store.update("incidents", id, {"status": "resolved", "attributes": attributes},
                          note=f"reply: {body.note}")  # fmt: skip
        return self.incidents.get(id)

    def callback(self, id: str, body: Callback) -> dict[str, Any]:
        """The citizen's rating of a resolved case; unsatisfied re-opens it."""
        record, block = self._case(id)
        if record["status"] != "resolved":
            raise Conflict(f"a callback rates a resolved case; this one is {record['status']}")
        updated = casework.callback(block, body.satisfaction, self.clock(), body.note)
        reopen = body.satisfaction == "unsatisfied"
        status = "in_progress" if reopen else "closed"
        note = f"callback: {body.satisfaction}" + (f" ({body.note})" if body.note else "")
        attributes = {**record["attributes"], "hotline": updated}
        self.store.update("incidents", id, {"status": status, "attributes": attributes},
                          note=note + ("; re-opened" if reopen else ""))  # fmt: skip
        return self.incidents.get(id)

    def escalate(self, id: str, body: Escalation) -> dict[str, Any]:
        """Hand an overdue open case to the level above (street → district → city)."""
        record, block = self._case(id)
        if record["status"] not in OPEN:
            raise Conflict(f"only an open case is escalated; this one is {record['status']}")
        updated = casework.escalate(block, self.clock())
        district = "" if updated["level"] == "city" else record.get("district_code") or ""
        zone = "" if updated["level"] == "city" else record.get("managing_zone") or ""
        office = self.incidents.duty_list.route(record["category"], district, zone).office
        note = f"escalated {block['level']} -> {updated['level']}, to {office}"
        note += f": {body.note}" if body.note else ""
        attributes = {**record["attributes"], "hotline": updated}
        case_event(self.store, id, "escalated", attributes, note=note, office=office)
        return self.incidents.get(id)

    def scan(self, at: int | None = None) -> list[dict[str, Any]]:
        """Raise the near/overdue events of open cases at ``at`` (default: the clock)."""
        now = self.clock() if at is None else at
        frame = self.store.frame(
            "incidents", ["id", "status", "attributes"], FeatureFilter(status=list(OPEN))
        )
        events = []
        for id, status, attributes in frame.itertuples(index=False):
            attributes = _json(attributes)
            block = attributes.get("hotline")
            if not block:
                continue
            alerts = new_alerts(block, status, now)
            for deadline, state in alerts:
                block = {**block, "alerts": {**(block.get("alerts") or {}), deadline: state}}
                case_event(self.store, id, EVENT_OPS[state], {**attributes, "hotline": block})
                events.append({"id": id, "deadline": deadline, "state": state})
        return events


def _json(value: Any) -> dict[str, Any]:
    import orjson

    if isinstance(value, dict):
        return value
    return orjson.loads(value) if value else {}


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["hotline"])
    access = ctx.access

    def work() -> Casework:  # per request: building the app opens nothing
        return Casework(ctx.incidents)

    update = Depends(access.require("incidents.update"))
    limited = [Depends(check_content_length)]

    @router.get(
        "/v1/review", summary="Intakes waiting for a person", dependencies=[Depends(access.read())]
    )
    def review_queue(limit: int = Query(100, ge=1, le=MAX_QUEUE)) -> Response:
        return json_response({"items": work().queue(limit)})

    @router.get(
        "/v1/review/{item_id}", summary="One queued intake", dependencies=[Depends(access.read())]
    )
    def review_item(item_id: str) -> Response:
        return json_response(work().review(item_id))

    @router.patch("/v1/review/{item_id}", summary="Decide a queued intake (category, place)",
                  dependencies=limited)  # fmt: skip
    def decide(item_id: str, body: ReviewDecision, _key: ApiKey = update) -> Response:
        return json_response(work().decide(item_id, body), status_code=201)

    @router.post("/v1/incidents/{incident_id}/reply", summary="The office's reply (resolves)",
                 dependencies=limited)  # fmt: skip
    def reply(incident_id: str, body: Reply, _key: ApiKey = update) -> Response:
        return json_response(work().reply(incident_id, body))

    @router.post("/v1/incidents/{incident_id}/callback", summary="The citizen's callback",
                 dependencies=limited)  # fmt: skip
    def callback(incident_id: str, body: Callback, _key: ApiKey = update) -> Response:
        return json_response(work().callback(incident_id, body))

    @router.post("/v1/incidents/{incident_id}/escalate", summary="Escalate an overdue case",
                 dependencies=limited)  # fmt: skip
    def escalate(incident_id: str, body: Escalation, _key: ApiKey = update) -> Response:
        return json_response(work().escalate(incident_id, body))

    @router.post("/v1/supervision/scan", summary="Raise near/overdue deadline events")
    def scan(
        at: str | None = Query(None, max_length=40, description="ISO 8601; default now"),
        _key: ApiKey = update,
    ) -> Response:
        return json_response({"events": work().scan(parse_at(at) if at else None)})

    @router.get("/v1/taxonomy", summary="Categories: groups, codes, names, sub-categories",
                dependencies=[Depends(access.read())])  # fmt: skip
    def taxonomy() -> Response:
        tax = ctx.store.taxonomy
        channels = [{"id": n.id, "code": n.code, "name": n.name, "aliases": list(n.aliases)}
                    for n in tax.of_kind("channel")]  # fmt: skip
        return json_response({"categories": tax.describe(), "channels": channels})

    return router
