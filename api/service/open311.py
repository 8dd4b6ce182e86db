"""An Open311 GeoReport v2 endpoint (JSON and XML) over the same incidents.

    GET  /open311/v2/discovery.{json,xml}
    GET  /open311/v2/services.{json,xml}?lat=30.55&long=101.52   (what is offered there)
    GET  /open311/v2/services/{service_code}.{json,xml}
    GET  /open311/v2/requests.{json,xml}?service_code=noise&status=open&page=1&page_size=50
    POST /open311/v2/requests.{json,xml}   (form: api_key, service_code, lat, long,
                                            attribute[priority]=high, email, ...)
    GET  /open311/v2/requests/{service_request_id}.{json,xml}
    GET  /open311/v2/tokens/{token}.{json,xml}   (a request queued for a person)

Services are the incident categories; at a point, those the duty list takes there.
``status`` is ``open`` (received, dispatched, in_progress) or ``closed`` (resolved,
closed) and ``status_notes`` carries the detailed status. ``lat``/``long`` are WGS84.
Times carry the city's UTC offset (see :mod:`api.service.georeport`). ``page``/
``page_size`` follow the common GeoReport extension. The API key comes as the
``api_key`` form field (as the spec says) or the ``X-API-Key`` header. The contact
fields are kept apart (:mod:`geo.store.contacts`) and never read back here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response

from cityaware.api.service.auth import HEADER, Unauthorized, client_of
from cityaware.api.service.georeport import (
    FIELD_ATTRIBUTES,
    check_attributes,
    csv_values,
    discovery,
    load_services,
    parse_date,
    search_window,
    service_definition,
    service_request,
    status_filter,
    w3c_time,
)
from cityaware.api.service.georeport_xml import (
    DEFINITION,
    DISCOVERY,
    FORMATS,
    REQUESTS,
    SERVICES,
    answer,
)
from cityaware.api.service.incidents import IncidentIn, Incidents, IntakeExtras
from cityaware.api.service.limits import check_content_length
from cityaware.geo.errors import InvalidInput, NotFound, Unprocessable
from cityaware.geo.hotline.intake import MAX_TEXT
from cityaware.geo.store import FeatureFilter
from cityaware.geo.store.casework import get_review
from cityaware.geo.store.contacts import CONTACT_FIELDS, MAX_FIELD, contact_writer
from cityaware.geo.store.times import from_ms, now_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.geo.store.store import FeatureStore

MAX_PAGE_SIZE = 1000
PREFIX = "/open311/v2"
ATTRIBUTE = "attribute["


class Open311:
    """The GeoReport v2 view of the store's incidents; creates through :class:`Incidents`."""

    def __init__(self, store: FeatureStore, incidents: Incidents) -> None:
        self.store, self.incidents = store, incidents
        self.started = from_ms(now_ms()) or ""  # the discovery document's changeset

    def clock(self) -> tzinfo:
        """The city's time zone (UTC without an active generation or profile)."""
        geocoding = self.incidents.geocoding
        try:
            generation = geocoding.locator().generation
        except NotFound:
            return UTC
        return geocoding.profiles.get(generation).clock if geocoding.profiles else UTC

    def discovery(self, base_url: str) -> dict[str, Any]:
        """The discovery document of this endpoint (changeset: when this server started)."""
        changeset = w3c_time(self.started, self.clock()) or ""
        return discovery(base_url.rstrip("/") + PREFIX, changeset, base_url)

    def services(self, lat: float | None = None, long: float | None = None) -> list[dict[str, Any]]:
        """The service list: one service per incident category; with ``lat``/``long`` only
        those the duty list takes at that point (none outside the city)."""
        services = load_services(self.store.taxonomy.categories)
        if lat is None and long is None:
            return services
        if lat is None or long is None:
            raise InvalidInput("give both lat and long (WGS84) to list the services there")
        where = self.incidents.geocoding.locator().locate(long, lat, "EPSG:4326")
        if where.district_code is None:
            return []
        district, zone = where.district_code, where.managing_zone or ""
        duty = self.incidents.duty_list
        return [s for s in services if duty.offers(s["service_code"], district, zone)]

    def service(self, code: str) -> dict[str, Any]:
        """The definition of service ``code``; NotFound for an unknown one."""
        if code not in self.store.taxonomy.categories:
            raise NotFound(f"service_code {code!r} is not a service; see services.json")
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
        """Service requests matching the GeoReport filters, newest first, one page; a search
        without ids covers at most 90 days (:func:`search_window`)."""
        clock = self.clock()
        since = parse_date(start_date, "start_date", clock)
        until = parse_date(end_date, "end_date", clock)
        if not ids:  # a search, not a look-up: GeoReport's 90-day window
            since, until = search_window(since, until, datetime.now(UTC))
        filters = FeatureFilter(
            ids=csv_values(ids),
            category=csv_values(codes),
            status=status_filter(status),
            since=since,
            until=until,
        )
        found = self.store.query(
            "incidents", filters, limit=page_size, offset=(page - 1) * page_size,
            sortby=["-reported_at"],
        )  # fmt: skip
        names = self._names()
        return [service_request(r, names, clock) for r in found.items]

    def request(self, request_id: str) -> list[dict[str, Any]]:
        """One service request (in a list, as GeoReport answers)."""
        record = self.store.get("incidents", request_id)
        return [service_request(record, self._names(), self.clock())]

    def token(self, token: str) -> list[dict[str, Any]]:
        """The service request a queued request (its token) became, once a person decided."""
        try:
            item = get_review(self.store, token)
        except NotFound:
            raise NotFound(f"token {token!r} is not known here") from None
        return [{"service_request_id": item.get("incident_id"), "token": token}]

    def create(
        self,
        form: dict[str, Any],
        attributes: list[tuple[str, str]],
        idempotency_key: str | None,
    ) -> list[dict[str, Any]]:
        """Create a service request from its form fields (``service_code``, WGS84 ``lat``/
        ``long`` or ``address_string``, ``description``, ``media_url``, the contact fields)
        and its ``attribute[code]`` pairs, as an incident.

        Without a service code or a place, the description is read as free text (the
        place and category found in it); a request that needs a person answers with a
        GeoReport ``token`` (the review item) instead of a service_request_id.
        """
        code, lat, long = form.get("service_code"), form.get("lat"), form.get("long")
        address, description = form.get("address_string"), form.get("description")
        if (lat is None) != (long is None):
            raise InvalidInput("give both lat and long (WGS84), or an address_string")
        if not code and not description:
            raise InvalidInput("service_code is required (or a description to read it from)")
        free_text = not code or (lat is None and not address)
        if free_text and len(description or "") > MAX_TEXT:
            raise InvalidInput(f"description is read as the complaint text: at most {MAX_TEXT} "
                               "characters without a service_code and a place")  # fmt: skip
        checked: dict[str, Any] = {}
        if code:
            code = self._service_code(code)
            checked = check_attributes(self.service(code), attributes)
        elif attributes:
            raise InvalidInput("attribute[...] needs a service_code (its definition)")
        incident = IncidentIn(
            category=code or None,
            lon=long,
            lat=lat,
            crs="EPSG:4326" if lat is not None else None,
            address=address,
            description=description,
            text=description if free_text else None,
            channel="open311",
            media_url=form.get("media_url"),
            **{name: checked[name] for name in FIELD_ATTRIBUTES if name in checked},
        )
        extras = IntakeExtras(
            {"service_attributes": checked} if checked else {},
            contact_writer(self.store, {name: form.get(name) for name in CONTACT_FIELDS}),
        )
        try:
            view, _ = self.incidents.create(incident, idempotency_key, extras=extras)
        except Unprocessable as error:  # the place could not be used: say which field
            field = "lat/long" if lat is not None else "address_string"
            raise Unprocessable(f"{field}: {error}") from None
        account = form.get("account_id")
        if "state" in view:  # queued for review
            notice = f"queued for review: {view['dispatch']['reason']}"
            return [{"token": view["id"], "service_notice": notice, "account_id": account}]
        notice = f"routed to {view['routing']['office']}"
        return [{"service_request_id": view["id"], "service_notice": notice, "account_id": account}]

    def _service_code(self, code: str) -> str:
        try:
            return self.store.taxonomy.check_category(code)
        except InvalidInput:
            raise InvalidInput(
                f"service_code {code!r} is not a service here; see services.json"
            ) from None


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])
    access = ctx.access
    readable = Depends(access.read())

    async def form_fields(
        request: Request, x_api_key: str | None = Header(None, alias=HEADER)
    ) -> list[tuple[str, str]]:
        """GeoReport v2 sends the key as the ``api_key`` form field: check it (or the
        header) before the request's fields are validated, so a bad key is always a 401;
        answer the ``attribute[code]`` pairs (not declarable as form fields)."""
        form = await request.form()
        key = form.get("api_key")
        secret = key if isinstance(key, str) and key else x_api_key
        try:
            access.check(secret, "incidents.create", client_of(request))
        except Unauthorized as error:
            reason = "is required" if not secret else "is not a known key"
            raise Unauthorized(f"api_key {reason} (the api_key form field, or {HEADER})") from (
                error
            )
        return [
            (name, value)
            for name, value in form.multi_items()
            if name.startswith(ATTRIBUTE) and isinstance(value, str)
        ]

    for fmt in FORMATS:
        _add_routes(router, ctx, fmt, readable, form_fields)
    return router


def _private() -> Any:
    """A contact form field (one FieldInfo per parameter: FastAPI keeps names on it)."""
    return Form(None, max_length=MAX_FIELD, description="kept private, never read back")


def _add_routes(
    router: APIRouter,
    ctx: AppContext,
    fmt: str,
    readable: Any,
    form_fields: Callable[..., Any],
) -> None:
    """The GeoReport endpoints answering in ``fmt``."""
    access = ctx.access

    @router.get(f"/discovery.{fmt}", summary="Discovery document", dependencies=[readable])
    def discover(request: Request) -> Response:
        return answer(ctx.open311.discovery(str(request.base_url)), fmt, DISCOVERY)

    @router.get(
        f"/services.{fmt}",
        summary="Service list (incident categories; with lat/long: those offered there)",
        dependencies=[readable],
    )
    def list_services(
        lat: float | None = Query(None, ge=-90, le=90, description="WGS84"),
        long: float | None = Query(None, ge=-180, le=180, description="WGS84"),
        jurisdiction_id: str | None = Query(None, max_length=100, description="ignored"),
    ) -> Response:
        return answer(ctx.open311.services(lat, long), fmt, SERVICES)

    @router.get(
        f"/services/{{service_code}}.{fmt}", summary="Service definition", dependencies=[readable]
    )
    def define_service(service_code: str) -> Response:
        return answer(ctx.open311.service(service_code), fmt, DEFINITION)

    @router.get(
        f"/requests.{fmt}", summary="Service requests (newest first)", dependencies=[readable]
    )
    def list_requests(
        service_request_id: str | None = Query(
            None, max_length=2000, description="ids, comma separated"
        ),
        service_code: str | None = Query(
            None, max_length=500, description="codes, comma separated"
        ),
        status: str | None = Query(None, max_length=20, description="open, closed or open,closed"),
        start_date: str | None = Query(
            None, max_length=40, description="W3C time, inclusive; at most 90 days before end_date"
        ),
        end_date: str | None = Query(
            None, max_length=40, description="W3C time, inclusive (default: start + 90 days or now)"
        ),
        page: int = Query(1, ge=1, le=1_000_000),
        page_size: int = Query(100, ge=1, le=MAX_PAGE_SIZE),
        jurisdiction_id: str | None = Query(None, max_length=100, description="ignored"),
    ) -> Response:
        found = ctx.open311.requests(
            service_request_id, service_code, status, start_date, end_date, page, page_size
        )
        return answer(found, fmt, REQUESTS)

    @router.get(
        f"/requests/{{service_request_id}}.{fmt}",
        summary="One service request",
        dependencies=[readable],
    )
    def get_request(service_request_id: str) -> Response:
        return answer(ctx.open311.request(service_request_id), fmt, REQUESTS)

    @router.get(
        f"/tokens/{{token}}.{fmt}",
        summary="The service request id of a queued request",
        dependencies=[readable],
    )
    def get_token(token: str) -> Response:
        return answer(ctx.open311.token(token), fmt, REQUESTS)

    @router.post(
        f"/requests.{fmt}",
        summary="Create a service request (form encoded, as the spec says)",
        dependencies=[Depends(check_content_length)],
    )
    @access.declare("incidents.create", key_in_body=True)
    def create_request(
        attributes: list[tuple[str, str]] = Depends(form_fields),
        service_code: str | None = Form(None, max_length=64, description="else read from text"),
        lat: float | None = Form(None, ge=-90, le=90, description="WGS84"),
        long: float | None = Form(None, ge=-180, le=180, description="WGS84"),
        address_string: str | None = Form(None, max_length=200),
        description: str | None = Form(
            None, max_length=4000, description="read as the complaint text when no place is given"
        ),
        media_url: str | None = Form(None, max_length=1000),
        email: str | None = _private(),
        first_name: str | None = _private(),
        last_name: str | None = _private(),
        phone: str | None = _private(),
        device_id: str | None = _private(),
        account_id: str | None = _private(),
        api_key: str | None = Form(None, max_length=200, description="checked first"),
        jurisdiction_id: str | None = Form(None, max_length=100),
        idempotency_key: str | None = Header(None, max_length=200),
    ) -> Response:
        form = {
            "service_code": service_code, "lat": lat, "long": long,
            "address_string": address_string, "description": description,
            "media_url": media_url, "email": email, "first_name": first_name,
            "last_name": last_name, "phone": phone, "device_id": device_id,
            "account_id": account_id,
        }  # fmt: skip
        return answer(ctx.open311.create(form, attributes, idempotency_key), fmt, REQUESTS)
