"""An Open311 GeoReport v2 facade (JSON only) over the same incidents.

    GET  /open311/v2/services.json
    GET  /open311/v2/services/{service_code}.json
    GET  /open311/v2/requests.json?service_code=noise&status=open&page=1&page_size=50
    POST /open311/v2/requests.json   (form: api_key, service_code, lat, long, description, ...)
    GET  /open311/v2/requests/{service_request_id}.json

Services are the incident categories; ``status`` is ``open`` (received,
dispatched, in_progress) or ``closed`` (resolved, closed) and
``status_notes`` carries the detailed status. ``lat``/``long`` are WGS84.
Times are ISO 8601 in UTC (``Z``). ``page``/``page_size`` follow the common
GeoReport extension. The API key comes as the ``api_key`` form field (as the
spec says) or the ``X-API-Key`` header.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response

from cityaware.api.responses import json_response
from cityaware.api.service.auth import HEADER, client_of
from cityaware.api.service.incidents import IncidentIn, Incidents
from cityaware.api.service.limits import check_content_length
from cityaware.geo.errors import InvalidInput, NotFound
from cityaware.geo.resources import shipped
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.taxonomy import CLOSED_STATUSES, OPEN_STATUSES, PRIORITIES

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.geo.store.store import FeatureStore

SERVICES_FILE = shipped("cityaware.api.service", "services.csv")
MAX_PAGE_SIZE = 1000


def load_services(categories: tuple[str, ...]) -> list[dict[str, Any]]:
    """GeoReport service records for the store's categories (names from services.csv).

    >>> load_services(("noise",))[0]["service_name"]
    '噪声扰民'
    """
    with open(SERVICES_FILE, encoding="utf-8", newline="") as handle:
        known = {row["code"]: row for row in csv.DictReader(handle)}
    services = []
    for code in categories:
        row = known.get(code, {})
        keywords = [k for k in (row.get("keywords") or "").split(";") if k]
        services.append(
            {
                "service_code": code,
                "service_name": row.get("name") or code,
                "description": row.get("description") or None,
                "metadata": True,
                "type": "realtime",
                "keywords": ",".join(keywords) or None,
                "group": row.get("group") or None,
            }
        )
    return services


def service_definition(code: str) -> dict[str, Any]:
    """The GeoReport attributes every service takes (priority and title)."""
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "priority",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "how urgent the case is",
                "order": 1,
                "description": "Priority",
                "values": [{"key": p, "name": p} for p in PRIORITIES],
            },
            {
                "variable": True,
                "code": "title",
                "datatype": "string",
                "required": False,
                "datatype_description": "up to 200 characters",
                "order": 2,
                "description": "Short title",
                "values": None,
            },
        ],
    }


def service_request(record: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One incident as a GeoReport v2 service request."""
    return {
        "service_request_id": record["id"],
        "status": "open" if record.get("status") in OPEN_STATUSES else "closed",
        "status_notes": record.get("status"),
        "service_name": names.get(record.get("category"), record.get("category")),
        "service_code": record.get("category"),
        "description": record.get("description"),
        "agency_responsible": record.get("office"),
        "service_notice": None,
        "requested_datetime": record.get("reported_at"),
        "updated_datetime": record.get("updated_at"),
        "expected_datetime": None,
        "address": record.get("address"),
        "address_id": None,
        "zipcode": None,
        "lat": record.get("lat"),
        "long": record.get("lon"),
        "media_url": (record.get("attributes") or {}).get("media_url"),
    }


def _csv_values(text: str | None) -> list[str] | None:
    values = [v.strip() for v in (text or "").split(",") if v.strip()]
    return values or None


def status_filter(text: str | None) -> list[str] | None:
    """Store statuses for an Open311 ``status`` filter (``open``, ``closed`` or both)."""
    wanted = _csv_values(text)
    if wanted is None:
        return None
    unknown = sorted(set(wanted) - {"open", "closed"})
    if unknown:
        raise InvalidInput(f"status must be open and/or closed, not {', '.join(unknown)}")
    return [
        s
        for group, statuses in (("open", OPEN_STATUSES), ("closed", CLOSED_STATUSES))
        if group in wanted
        for s in statuses
    ]


def parse_date(text: str | None, name: str) -> str | None:
    """A W3C/ISO 8601 time within 1970-2200 (naive means UTC), as ISO text; else 400.

    >>> parse_date("2024-05-01T08:00:00+08:00", "start_date")
    '2024-05-01T00:00:00+00:00'
    """
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time, e.g. 2024-05-01T08:00:00+08:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1970 <= moment.year <= 2200:
        raise InvalidInput(f"{name} must lie between the years 1970 and 2200")
    return moment.astimezone(UTC).isoformat()


class Open311:
    """The GeoReport v2 view of the store's incidents; creates through :class:`Incidents`."""

    def __init__(self, store: FeatureStore, incidents: Incidents) -> None:
        self.store, self.incidents = store, incidents

    def services(self) -> list[dict[str, Any]]:
        """The service list: one service per incident category."""
        return load_services(self.store.taxonomy.categories)

    def service(self, code: str) -> dict[str, Any]:
        """The definition of service ``code``; NotFound for an unknown one."""
        if code not in self.store.taxonomy.categories:
            raise NotFound(f"no service {code!r}; see /open311/v2/services.json")
        return service_definition(code)

    def _names(self) -> dict[str, str]:
        return {s["service_code"]: s["service_name"] for s in self.services()}

    def requests(
        self,
        ids: str | None = None,
        codes: str | None = None,
        status: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        page: int = 1,
        page_size: int = 100,
    ) -> list[dict[str, Any]]:
        """Service requests matching the GeoReport filters, newest first, one page."""
        filters = FeatureFilter(
            ids=_csv_values(ids),
            category=_csv_values(codes),
            status=status_filter(status),
            since=parse_date(start_date, "start_date"),
            until=parse_date(end_date, "end_date"),
        )
        found = self.store.query(
            "incidents", filters, limit=page_size, offset=(page - 1) * page_size,
            sortby=["-reported_at"],
        )  # fmt: skip
        names = self._names()
        return [service_request(r, names) for r in found.items]

    def request(self, request_id: str) -> list[dict[str, Any]]:
        """One service request (in a list, as GeoReport answers)."""
        return [service_request(self.store.get("incidents", request_id), self._names())]

    def create(
        self,
        service_code: str,
        lat: float | None,
        long: float | None,
        address: str | None,
        description: str | None,
        media_url: str | None,
        idempotency_key: str | None,
    ) -> list[dict[str, Any]]:
        """Create a service request (WGS84 ``lat``/``long``, or an address) as an incident."""
        if (lat is None) != (long is None):
            raise InvalidInput("give both lat and long (WGS84), or an address_string")
        incident = IncidentIn(
            category=service_code,
            lon=long,
            lat=lat,
            crs="EPSG:4326" if lat is not None else None,
            address=address,
            description=description,
            channel="open311",
            media_url=media_url,
        )
        view, _ = self.incidents.create(incident, idempotency_key)
        notice = f"routed to {view['routing']['office']}"
        return [{"service_request_id": view["id"], "service_notice": notice, "account_id": None}]


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])
    access = ctx.access
    readable = Depends(access.read())

    @router.get(
        "/services.json", summary="Service list (incident categories)", dependencies=[readable]
    )
    def list_services() -> Response:
        return json_response(ctx.open311.services())

    @router.get(
        "/services/{service_code}.json", summary="Service definition", dependencies=[readable]
    )
    def define_service(service_code: str) -> Response:
        return json_response(ctx.open311.service(service_code))

    @router.get(
        "/requests.json", summary="Service requests (newest first)", dependencies=[readable]
    )
    def list_requests(
        service_request_id: str | None = Query(
            None, max_length=2000, description="ids, comma separated"
        ),
        service_code: str | None = Query(
            None, max_length=500, description="codes, comma separated"
        ),
        status: str | None = Query(None, max_length=20, description="open, closed or open,closed"),
        start_date: str | None = Query(None, max_length=40, description="ISO 8601, inclusive"),
        end_date: str | None = Query(None, max_length=40, description="ISO 8601, inclusive"),
        page: int = Query(1, ge=1, le=1_000_000),
        page_size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
        jurisdiction_id: str | None = Query(None, max_length=100, description="ignored"),
    ) -> Response:
        found = ctx.open311.requests(
            service_request_id, service_code, status, start_date, end_date, page, page_size
        )
        return json_response(found)

    @router.get(
        "/requests/{service_request_id}.json",
        summary="One service request",
        dependencies=[readable],
    )
    def get_request(service_request_id: str) -> Response:
        return json_response(ctx.open311.request(service_request_id))

    async def form_key(
        request: Request, x_api_key: str | None = Header(None, alias=HEADER)
    ) -> None:
        """GeoReport v2 sends the key as the ``api_key`` form field: check it (or the
        header) before the request's fields are validated, so a bad key is always a 401."""
        key = (await request.form()).get("api_key")
        access.check(
            key if isinstance(key, str) else x_api_key, "incidents.create", client_of(request)
        )

    @router.post(
        "/requests.json",
        summary="Create a service request (form encoded, as the spec says)",
        dependencies=[Depends(check_content_length), Depends(form_key)],
    )
    @access.declare("incidents.create", key_in_body=True)
    def create_request(
        request: Request,
        service_code: str = Form(..., max_length=64),
        lat: float | None = Form(None),
        long: float | None = Form(None),
        address_string: str | None = Form(None, max_length=200),
        description: str | None = Form(None, max_length=4000),
        media_url: str | None = Form(None, max_length=1000),
        api_key: str | None = Form(None, max_length=200, description="checked by form_key"),
        jurisdiction_id: str | None = Form(None, max_length=100),
        idempotency_key: str | None = Header(None, max_length=200),
    ) -> Response:
        created = ctx.open311.create(
            service_code, lat, long, address_string, description, media_url, idempotency_key
        )
        return json_response(created)

    return router
