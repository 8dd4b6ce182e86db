"""``/v1/incidents``: intake pinned to its grid and routed by the duty list; lifecycle.

    POST  /v1/incidents        {"category": "manhole_cover", "lon": 113.66, "lat": 34.75,
                                "crs": "GCJ02", "description": "井盖缺失"}
          Idempotency-Key: 7d9c...   (a retry returns the same incident; 409 with another body)
    GET   /v1/incidents/{id}
    PATCH /v1/incidents/{id}   {"status": "dispatched", "note": "sent to the street office"}

Writes need an API key: create with role service, ops or admin; update with ops or admin.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.responses import json_response
from cityaware.api.service.auth import ApiKey
from cityaware.api.service.limits import check_content_length
from cityaware.api.service.locate import CRS_HELP
from cityaware.api.service.nearest import nearest_devices
from cityaware.geo.crs import from_lonlat
from cityaware.geo.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.api.service.geocoding import Geocoding
    from cityaware.api.service.routing import DutyList
    from cityaware.geo.store.live import LiveDevices
    from cityaware.geo.store.store import FeatureStore

NEAREST_CAMERAS = 5


class IncidentIn(BaseModel):
    """A new incident: coordinates in any CRS, or an address."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(
        ..., min_length=1, max_length=64, description="see /open311/v2/services.json"
    )
    lon: float | None = Field(None, description="x: longitude or easting")
    lat: float | None = Field(None, description="y: latitude or northing")
    crs: str | None = Field(None, max_length=100, description=CRS_HELP)
    address: str | None = Field(None, max_length=200, description="instead of coordinates")
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=4000)
    channel: str = Field("web", max_length=32, description="hotline_12345, photo_app, web, ...")
    priority: str = Field("normal", max_length=16, description="low, normal, high, urgent")
    media_url: str | None = Field(None, max_length=1000, description="a photo of the case")


class IncidentPatch(BaseModel):
    """A change along the lifecycle (and/or priority, delivery state)."""

    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, max_length=32, description="received → dispatched → ...")
    note: str | None = Field(None, max_length=1000, description="kept in the status history")
    priority: str | None = Field(None, max_length=16)
    delivery_state: str | None = Field(None, max_length=32)


def fingerprint(incident: IncidentIn) -> str:
    """SHA-256 of the request's content, to tell a retry from a reused key."""
    canonical = orjson.dumps(incident.model_dump(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class Incidents:
    """Intake, views and lifecycle over the store, the locator and the duty list."""

    def __init__(
        self, store: FeatureStore, geocoding: Geocoding, duty_list: DutyList, devices: LiveDevices
    ) -> None:
        self.store, self.geocoding, self.duty_list = store, geocoding, duty_list
        self.devices = devices

    def create(self, incident: IncidentIn, idempotency_key: str | None) -> tuple[dict, bool]:
        """Pin, route and store an incident; returns (view, replayed)."""
        store = self.store
        store.taxonomy.check_category(incident.category)
        if incident.lon is not None and incident.lat is not None:
            if not incident.crs:
                raise InvalidInput(f"crs is required with lon/lat ({CRS_HELP})")
            x, y = incident.lon, incident.lat
            location = self.geocoding.locator().locate(x, y, incident.crs)
        elif incident.address:
            location = self.geocoding.located_address(incident.address)[0]
            x, y = location.lon, location.lat
        else:
            raise InvalidInput("give lon, lat and crs, or an address")
        # located once: the same answer routes the incident and is stored with it
        district, zone = location.district_code or "", location.managing_zone or ""
        routing = self.duty_list.route(incident.category, district, zone)
        digest = fingerprint(incident)
        record = {
            "lon": x,
            "lat": y,
            **incident.model_dump(exclude={"lon", "lat", "crs", "media_url"}),
            "office": routing.office,
            "attributes": {
                "routing": routing.as_dict(),
                "request_sha256": digest,
                "media_url": incident.media_url,
            },
        }
        stored, created = store.add_or_replay(
            "incidents", record, idempotency_key=idempotency_key, location=location
        )
        if stored["attributes"].get("request_sha256") != digest:
            raise Conflict(
                "this Idempotency-Key was already used with a different request body; "
                "use a new key for a new incident"
            )
        return self.view(stored), not created

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
        cameras = nearest_devices(
            self.devices, record["lon"], record["lat"], ("cameras",), NEAREST_CAMERAS
        )
        fields = ("id", "status", "category", "title", "description", "channel", "priority")
        fields += ("delivery_state", "address", "reported_at", "created_at", "updated_at")
        return {
            **{name: record.get(name) for name in fields},
            "location": {
                "wgs84": [record["lon"], record["lat"]],
                "gcj02": [float(gcj[0]), float(gcj[1])],
            },
            "assign_status": status,
            "on_boundary": status == "on_boundary",
            "outside": status == "outside",
            "grid": catalog.area(codes[0]),
            "chain": catalog.areas([c for c in codes if c]),
            "managing_zone": catalog.area(record.get("managing_zone")),
            "candidates": catalog.areas(record.get("candidates")),
            "nearest_grid": nearest,
            "generation": record.get("generation"),
            "routing": record["attributes"].get("routing")
            or {"office": record.get("office"), "rule": None},
            "nearest_cameras": cameras or None,
            "media_url": record["attributes"].get("media_url"),
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


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["incidents"])
    access = ctx.access

    @router.post(
        "/v1/incidents",
        summary="Report an incident: pinned to its grid, routed to the responsible office",
        status_code=201,
        dependencies=[Depends(check_content_length)],
    )
    def create_incident(
        incident: IncidentIn,
        idempotency_key: str | None = Header(None, max_length=200),
        _key: ApiKey = Depends(access.require("incidents.create")),
    ) -> Response:
        view, replayed = ctx.incidents.create(incident, idempotency_key)
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
