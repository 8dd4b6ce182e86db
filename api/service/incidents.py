"""``/v1/incidents``: intake pinned to its grid and routed by the duty list; lifecycle.

    POST  /v1/incidents        {"category": "manhole_cover", "lon": 114.36, "lat": 34.80,
                                "crs": "GCJ02", "description": "井盖缺失"}
          Idempotency-Key: 7d9c...   (a retry returns the same incident; 409 with another body)
    POST  /v1/incidents        {"text": "龙亭区中山路12号院门口井盖不见了", "channel": "12345"}
          -> 201 dispatched on its own (``dispatch.mode`` auto), or 202 queued for review
    GET   /v1/incidents/{id}
    PATCH /v1/incidents/{id}   {"status": "dispatched", "note": "sent to the street office"}

Writes need an API key: create with role service, ops or admin; update with ops or admin.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.json_body import json_body_openapi, read_model
from cityaware.api.responses import json_response
from cityaware.api.service.auth import ApiKey
from cityaware.api.service.intake import hotline_view
from cityaware.api.service.limits import check_content_length
from cityaware.api.service.locate import CRS_HELP
from cityaware.api.service.nearest import nearest_devices
from cityaware.api.service.recent_cases import RecentCases
from cityaware.geo.crs import from_lonlat
from cityaware.geo.errors import Conflict, InvalidInput, NotFound, Unprocessable
from cityaware.geo.hotline.casework import handling_level
from cityaware.geo.hotline.deadlines import DeadlineTable
from cityaware.geo.hotline.intake import MAX_TEXT, check_text, decide
from cityaware.geo.hotline.matters import MatterRule
from cityaware.geo.hotline.places import PlaceReading, without_place
from cityaware.geo.store.casework import add_review
from cityaware.geo.store.records import new_ids
from cityaware.geo.store.times import now_ms, to_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.api.service.geocoding import Geocoding
    from cityaware.api.service.intake import TextReader
    from cityaware.api.service.routing import DutyList
    from cityaware.geo.engine import Locator
    from cityaware.geo.engine.results import Location
    from cityaware.geo.hotline.classifier import Classification
    from cityaware.geo.store.live import LiveDevices
    from cityaware.geo.store.store import FeatureStore

NEAREST_CAMERAS = 5
INTAKE_THREADS = 32  # POSTs in flight per process: the most one group commit can gather
CAMERAS_LAG_S = 0.2  # the nearest cameras of a view may miss a camera added this recently
_GIVEN = PlaceReading("given", "grid", True, "place given")  # lon/lat or address in the request


# the stored fields an incident's view shows as they are
VIEW_FIELDS = ("id", "status", "category", "title", "description", "channel", "priority",
               "delivery_state", "address", "reported_at", "created_at", "updated_at")  # fmt: skip


class IncidentIn(BaseModel):
    """A new incident: coordinates in any CRS, or an address."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(
        None, min_length=1, max_length=64,
        description="id, code, Chinese name or alias (see /v1/taxonomy); read from text if absent",
    )  # fmt: skip
    text: str | None = Field(
        None, max_length=MAX_TEXT, description="the complaint as the caller said it"
    )
    lon: float | None = Field(None, description="x: longitude or easting")
    lat: float | None = Field(None, description="y: latitude or northing")
    crs: str | None = Field(None, max_length=100, description=CRS_HELP)
    address: str | None = Field(None, max_length=200, description="instead of coordinates")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    channel: str = Field("web", max_length=32, description="hotline_12345 (or 12345), web, ...")
    priority: str = Field("normal", max_length=16, description="low, normal, high, urgent")
    media_url: str | None = Field(None, max_length=1000, description="a photo of the case")


@dataclass(frozen=True)
class IntakeExtras:
    """What a channel adds to an intake: ``attributes`` kept in the case's attributes, and
    ``also(conn, id)``, a write of private rows in the case's (or review item's) transaction."""

    attributes: dict[str, Any] = field(default_factory=dict)
    also: Callable[[Any, str], None] | None = None


class IncidentPatch(BaseModel):
    """A change along the lifecycle (and/or priority, delivery state)."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, max_length=32, description="received → dispatched → ...")
    note: str | None = Field(None, max_length=1000, description="kept in the status history")
    priority: str | None = Field(None, max_length=16)
    delivery_state: str | None = Field(None, max_length=32)


def review_view(item: dict[str, Any]) -> dict[str, Any]:
    """A review-queue item as answered."""
    analysis = item["analysis"]
    return {
        "id": item["id"],
        "state": item["state"],
        "text": item["text"],
        "channel": item["channel"],
        "received_at": item["received_at"],
        "category": analysis["category"],
        "place": analysis["place"],
        "dispatch": analysis["dispatch"],
        "incident_id": item.get("incident_id"),
        "decided_at": item.get("decided_at"),
        "note": item.get("note"),
    }


def fingerprint(incident: IncidentIn) -> str:
    """SHA-256 of the request's content, to tell a retry from a reused key."""
    canonical = orjson.dumps(incident.model_dump(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class Incidents:
    """Intake, views and lifecycle over the store, the locator and the duty list.

    ``reader`` reads free-text complaints (place and category); ``deadlines`` gives
    every case its due times; ``matters`` links close cases of one category.
    """

    def __init__(
        self,
        store: FeatureStore,
        geocoding: Geocoding,
        duty_list: DutyList,
        devices: LiveDevices,
        reader: TextReader | None = None,
        deadlines: DeadlineTable | None = None,
        matters: MatterRule | None = None,
    ) -> None:
        self.store, self.geocoding, self.duty_list = store, geocoding, duty_list
        self.devices = devices
        self.reader, self.deadlines = reader, deadlines or DeadlineTable.load()
        self.matters = matters or MatterRule()
        self.recent = RecentCases(store, self.matters.window_days)

    def create(
        self,
        incident: IncidentIn,
        idempotency_key: str | None,
        dispatch: dict[str, Any] | None = None,
        extras: IntakeExtras | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Pin, route and store an incident; returns (view, replayed).

        With ``text`` the category and/or place may be left out: they are read from
        the text. A case whose place or category is not trusted is queued for review
        instead (the view then has ``dispatch.mode`` review and no incident id).
        """
        extras = extras or IntakeExtras()
        store = self.store
        text = check_text(incident.text) if incident.text is not None else None
        channel = store.taxonomy.check_channel(incident.channel)
        if not incident.category and text is None:
            raise InvalidInput("give a category, or the complaint text to read it from")
        place: PlaceReading | None = None
        location: Location | None
        if incident.lon is not None and incident.lat is not None:
            if not incident.crs:
                raise InvalidInput(f"crs is required with lon/lat ({CRS_HELP})")
            location = self.geocoding.locator().locate(incident.lon, incident.lat, incident.crs)
        elif incident.address:
            found, answer = self.geocoding.located_address(incident.address)
            if found is None:  # only a coarse unit: pinning it to a point would mislead
                raise Unprocessable(answer["grid_reason"])
            location = found
        elif text is not None:
            from cityaware.api.service.intake import pinned_location

            place = self._reader().place(text)
            location = pinned_location(self.geocoding.locator(), place) if place.trusted else None
        else:
            raise InvalidInput("give lon, lat and crs, or an address, or the complaint text")
        if location is not None:  # far outside the city: refused (OutsideCity, 422)
            self.geocoding.extent(location.generation).check(location.lon, location.lat)
        guess: Classification | None = None
        if incident.category:
            category = store.taxonomy.check_category(incident.category)
        else:  # what is wrong, read from the text without its place
            guess = self._reader().classify(without_place(text or "", place or _GIVEN))
            category = guess.category
        if dispatch is None and (place is not None or guess is not None):
            dispatch = decide(guess, place or _GIVEN)  # auto only when all is trusted
            if dispatch["mode"] == "auto" and location is None:
                dispatch = {"mode": "review", "reason": "the place could not be pinned safely"}
            if dispatch["mode"] == "review":
                return self._queue(incident, text or "", channel, category, guess, place, dispatch,
                                   extras)  # fmt: skip
        assert location is not None
        return self._store(incident, idempotency_key, channel, category, location, text, guess,
                           place, dispatch, extras)  # fmt: skip

    def _reader(self) -> TextReader:
        if self.reader is None:
            raise InvalidInput("reading free text is not available on this server")
        return self.reader

    def hotline_block(
        self,
        category: str,
        location: Location,
        start: int,
        case_id: str,
        place_name: str | None = None,
    ) -> dict[str, Any]:
        """The loop's block of a new case: handling level, due times, matter."""
        from cityaware.api.service.intake import find_matter

        pinned = "grid" if location.grid_code else ("community" if location.community_code
                                                     else "street")  # fmt: skip
        level = handling_level(self.store.taxonomy.node(category).level, pinned)
        due = {"start_at": start, **self.deadlines.due(category, level, start)}
        matter = find_matter(self.recent, case_id, category, location, place_name, self.matters)
        empty = {"reply": None, "callback": None, "reopened": 0, "reopened_at": None}
        return {"level": level, "pinned": pinned, "due": due, "matter": matter, **empty,
                "escalations": []}  # fmt: skip

    def _store(
        self,
        incident: IncidentIn,
        idempotency_key: str | None,
        channel: str,
        category: str,
        location: Location,
        text: str | None,
        guess: Classification | None,
        place: PlaceReading | None,
        dispatch: dict[str, Any] | None,
        extras: IntakeExtras,
    ) -> tuple[dict[str, Any], bool]:
        store = self.store
        district, zone = location.district_code or "", location.managing_zone or ""
        city = self.geocoding.city_name(location)
        routing = self.duty_list.route(category, district, zone, city)
        if routing.refused:
            raise Unprocessable(
                f"{category} cases are not taken at this place (duty list rule "
                f"{routing.rule['id']})"
            )
        digest = fingerprint(incident)
        case_id = new_ids(1)[0]
        start, place_name = now_ms(), place.name if place else incident.address
        block = self.hotline_block(category, location, start, case_id, place_name)
        block |= {"text": text, "dispatch": dispatch, "place": place.to_dict() if place else None}
        block |= {"category": guess.to_dict() if guess else {"id": category, "given": True}}
        if text is not None:
            block["subcategory"] = self._reader().subcategory(category, text)
        fields = incident.model_dump(exclude={"lon", "lat", "crs", "media_url", "text"})
        record = {
            "id": case_id,
            "lon": location.lon,
            "lat": location.lat,
            **fields,
            "category": category,
            "channel": channel,
            "description": incident.description or text,
            "office": routing.office,
            "attributes": {
                "routing": routing.as_dict(),
                "request_sha256": digest,
                "media_url": incident.media_url,
                "hotline": block,
                **extras.attributes,
            },
        }
        stored, created = store.add_or_replay(
            "incidents", record, idempotency_key=idempotency_key, location=location,
            also=extras.also,
        )  # fmt: skip
        if not created:
            return self._replayed(stored, incident)
        reported = to_ms(stored["reported_at"]) if stored.get("reported_at") else start
        self.recent.add(case_id, category, location.lon, location.lat, reported, block["matter"],
                        place_name)  # fmt: skip
        if dispatch is not None:
            note = (
                dispatch.get("note") or f"auto dispatch to {routing.office}: {dispatch['reason']}"
            )
            stored = store.update("incidents", stored["id"], {"status": "dispatched"}, note=note)
        return self.view(stored), False

    def _replayed(
        self, stored: dict[str, Any], incident: IncidentIn
    ) -> tuple[dict[str, Any], bool]:
        if stored["attributes"].get("request_sha256") != fingerprint(incident):
            raise Conflict(
                "this Idempotency-Key was already used with a different request body; "
                "use a new key for a new incident"
            )
        return self.view(stored), True

    def _queue(
        self,
        incident: IncidentIn,
        text: str,
        channel: str,
        category: str,
        guess: Classification | None,
        place: PlaceReading | None,
        dispatch: dict[str, Any],
        extras: IntakeExtras,
    ) -> tuple[dict[str, Any], bool]:
        """Put an intake in the review queue (nothing is half stored: one transaction)."""
        analysis = {
            "category": guess.to_dict() if guess else {"id": category, "given": True},
            "place": place.to_dict() if place else None,
            "dispatch": dispatch,
            "request": incident.model_dump(exclude_none=True),
        }
        item = add_review(
            self.store, {"id": "RV-" + new_ids(1)[0], "text": text, "channel": channel,
                         "analysis": analysis}, also=extras.also
        )  # fmt: skip
        return review_view(item), False

    def view(self, record: dict[str, Any]) -> dict[str, Any]:
        """The incident with its grid, chain, candidates, routing and nearest cameras."""
        locator = self.geocoding.locator(None)
        if record.get("generation") not in (None, locator.generation):  # an older generation
            try:
                locator = self.geocoding.locator(record.get("generation"))
            except NotFound:  # generation removed since: describe with the active one
                pass
        catalog = self.geocoding.catalog(locator)
        codes = [
            record.get(f"{level}_code") for level in ("grid", "community", "street", "district")
        ]
        status = record.get("assign_status")
        nearest = None
        if status == "outside" and record.get("nearest_grid"):
            nearest = {
                "grid": catalog.area(record["nearest_grid"]),
                "distance_m": record.get("distance_m"),
            }
        gcj = from_lonlat(record["lon"], record["lat"], "GCJ02")
        cameras = nearest_devices(self.devices, record["lon"], record["lat"], ("cameras",),
                                  NEAREST_CAMERAS, max_age_s=CAMERAS_LAG_S)  # fmt: skip
        return {
            **{name: record.get(name) for name in VIEW_FIELDS},
            "location": {
                "wgs84": [record["lon"], record["lat"]],
                "gcj02": [float(gcj[0]), float(gcj[1])],
            },
            "assign_status": status,
            "on_boundary": status == "on_boundary",
            "outside": status == "outside",
            "grid": catalog.area(codes[0]),
            "chain": catalog.areas(chain_codes(locator, codes)),
            "managing_zone": catalog.area(record.get("managing_zone")),
            "candidates": catalog.areas(record.get("candidates")),
            "nearest_grid": nearest,
            "generation": record.get("generation"),
            "routing": record["attributes"].get("routing")
            or {"office": record.get("office"), "rule": None},
            "nearest_cameras": cameras or None,
            "media_url": record["attributes"].get("media_url"),
            "dispatch": (record["attributes"].get("hotline") or {}).get("dispatch"),
            "hotline": hotline_view(record["attributes"].get("hotline")),
        }

    def get(self, incident_id: str) -> dict[str, Any]:
        store = self.store
        view = self.view(store.get("incidents", incident_id))
        history = [
            {"from": h["from_status"], "to": h["to_status"], "at": h["at"], "note": h["note"]}
            for h in store.history("incidents", incident_id)["status"]
        ]
        return view | {"history": history or None}

    def patch(self, incident_id: str, change: IncidentPatch) -> dict[str, Any]:
        changes = change.model_dump(exclude_none=True, exclude={"note"})
        if not changes:
            raise InvalidInput("nothing to change: give status, priority or delivery_state")
        store = self.store
        store.update("incidents", incident_id, changes, note=change.note)
        return self.get(incident_id)


def chain_codes(locator: Locator, codes: list[str | None]) -> list[str]:
    """The stored codes (finest first), completed up to the city from the unit records."""
    known = [c for c in codes if c]
    if not known:
        return []
    try:
        above = [record["code"] for record in locator.chain(known[-1]).values()]
    except NotFound:  # a unit of a generation since removed
        return known
    return list(dict.fromkeys([*known, *above]))


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["incidents"])
    access = ctx.access
    # intakes wait in threads of their own for their group commit: never queued behind (or
    # in front of) the reads' threads, and handed over with less work than anyio's pool
    intake = ThreadPoolExecutor(INTAKE_THREADS, thread_name_prefix="intake")

    @router.post(
        "/v1/incidents",
        summary="Report an incident (structured, or free text): pinned, classified, routed",
        status_code=201,
        openapi_extra=json_body_openapi(IncidentIn),  # read below: no FastAPI body field
    )
    async def create_incident(
        request: Request,
        idempotency_key: str | None = Header(None, max_length=200),
        _key: ApiKey = Depends(access.require("incidents.create")),
    ) -> Response:
        incident = await read_model(IncidentIn, request)  # refuses a body past the limit
        loop = asyncio.get_running_loop()
        view, replayed = await loop.run_in_executor(
            intake, ctx.incidents.create, incident, idempotency_key
        )
        if "state" in view:  # queued for review: accepted, a person decides
            answer = json_response(view, status_code=202)
            answer.headers["Location"] = f"/v1/review/{view['id']}"
            return answer
        answer = json_response(view, status_code=201)
        if replayed:
            answer.headers["Idempotent-Replayed"] = "true"
        answer.headers["Location"] = f"/v1/incidents/{view['id']}"
        return answer

    @router.get(
        "/v1/incidents/{incident_id}",
        summary="An incident with its grid, routing and status history",
        dependencies=[Depends(access.read())],
    )
    def get_incident(incident_id: str) -> Response:
        return json_response(ctx.incidents.get(incident_id))

    @router.patch(
        "/v1/incidents/{incident_id}",
        summary="Move an incident along its lifecycle (illegal transitions: 409)",
        dependencies=[Depends(check_content_length)],
    )
    def patch_incident(
        incident_id: str,
        change: IncidentPatch,
        _key: ApiKey = Depends(access.require("incidents.update")),
    ) -> Response:
        return json_response(ctx.incidents.patch(incident_id, change))

    return router
