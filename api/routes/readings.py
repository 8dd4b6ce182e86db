"""Sensor readings, thresholds and alarms over HTTP.

    POST /v1/readings   {"readings": [{"sensor": "s1", "value": 3.2,
                                       "at": "2026-12-01T08:00:00Z", "unit": "m"}]}
         -> {"accepted": 1, "stored": 1, "evaluated": 1, "alarms": [...]}
    GET  /v1/sensors/{id}/readings?start=...&end=...&limit=...
    PUT  /v1/thresholds/{sensor|kind}/{target}  {"max": 3.0, "band": 0.2, "offline_minutes": 30,
                                                 "category": "drainage"}
    GET  /v1/thresholds;  DELETE /v1/thresholds/{scope}/{target}
    GET  /v1/alarms?sensor=&state=open;  GET /v1/alarms/{id}

A batch holds 1 to 10,000 readings; one bad reading (unknown sensor, a time further in the
future than ``CITYAWARE_FUTURE_SKEW_S``, a value that is not a finite number, an unknown
member) refuses the whole batch with a 400 naming it, and nothing is written.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from cityaware.api.responses import json_response
from cityaware.api.service.alarms import alarm_view
from cityaware.api.service.limits import check_batch_length, read_body
from cityaware.geo.errors import InvalidInput
from cityaware.geo.live.alarms import Threshold
from cityaware.geo.memory import gc_paused
from cityaware.geo.store.readings import ReadingBatch, WriteReport
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.api.context import AppContext
    from cityaware.api.service.alarms import Alarms

MAX_READINGS = 10_000
MAX_BODY = 8 * 1024 * 1024
READING_KEYS = frozenset({"sensor", "value", "at", "unit"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)


def parse_time(text: Any, what: str) -> int:
    """Epoch ms of an ISO 8601 time with an offset (InvalidInput otherwise).

    >>> parse_time("1970-01-01T00:00:01Z", "at")
    1000
    """
    if not isinstance(text, str):
        raise InvalidInput(f"{what} must be an ISO 8601 time text, got {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} is not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{what} needs a UTC offset (e.g. ...Z or +08:00): {text!r}")
    return (value - EPOCH) // MILLISECOND  # exact (no float): the same ms as Arrow's


def batch_items(
    body: bytes, member: str, shape: str, limit: int
) -> tuple[dict[str, Any], list[Any]]:
    """The JSON object of a batch body and its ``member`` list (1 to ``limit`` items);
    InvalidInput says what is wrong.

    >>> batch_items(b'{"points": [1]}', "points", "{...}", 10)
    ({'points': [1]}, [1])
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"the body is not valid JSON (NaN is not JSON): {error}") from None
    items = payload.get(member) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise InvalidInput(f'the body must be {{"{member}": [{shape}, ...]}}')
    check_batch_length(len(items), limit)
    return payload, items


def parse_readings(body: bytes, now: int, skew_ms: int) -> ReadingBatch:
    """The batch of a ``{"readings": [...]}`` body; InvalidInput names the first bad one.

    Checked column by column (:func:`reading_columns`); only a batch that fails is walked
    reading by reading (:func:`refuse_first_bad`) to say which reading is wrong.

    >>> parse_readings(b'{"readings":[{"sensor":"s","value":1,"at":"1970-01-01T00:00:01Z"}]}',
    ...     10_000, 0).at.tolist()
    [1000]
    """
    _, items = batch_items(body, "readings", '{"sensor", "value", "at"}', MAX_READINGS)
    batch = reading_columns(items, now + skew_ms)
    if batch is None:
        refuse_first_bad(items, now, skew_ms)
        raise AssertionError("refuse_first_bad found nothing wrong")  # pragma: no cover
    return batch


def reading_columns(items: list[Any], latest: int) -> ReadingBatch | None:
    """The readings as columns (times parsed by Arrow, values as a float array) when every
    one is well formed and no later than ``latest`` (epoch ms); None otherwise.

    >>> reading_columns([{"sensor": "s", "value": 2, "at": "1970-01-01T00:00:02+00:00"}],
    ...     5000).values.tolist()
    [2.0]
    >>> reading_columns([{"sensor": "s", "value": True, "at": "1970-01-01T00:00:02Z"}], 5000)
    """
    if set(map(type, items)) != {dict} or not READING_KEYS.issuperset(set().union(*items)):
        return None
    sensors = [item.get("sensor") for item in items]
    values = [item.get("value") for item in items]
    times = [item.get("at") for item in items]
    units = [item.get("unit") for item in items]
    if (
        set(map(type, sensors)) != {str}
        or not 0 < min(map(len, sensors)) <= max(map(len, sensors)) <= 64
    ):
        return None
    if not {int, float}.issuperset(map(type, values)) or set(map(type, times)) != {str}:
        return None
    if not {str, type(None)}.issuperset(map(type, units)):
        return None
    stamps = epoch_ms(times)
    try:
        numbers = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    if stamps is None or stamps.max() > latest or not np.isfinite(numbers).all():
        return None
    return ReadingBatch(sensors, numbers, stamps, units)


def epoch_ms(times: list[str]) -> npt.NDArray[np.int64] | None:
    """Epoch ms of ISO 8601 times with offsets, parsed by Arrow (by :func:`parse_time`
    for forms Arrow does not read); None when one is not such a time.

    >>> epoch_ms(["1970-01-01T00:00:01Z", "19700101T000002+0000"]).tolist()
    [1000, 2000]
    """
    try:
        parsed = pa.array(times, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
        return np.asarray(parsed.cast(pa.int64()).to_numpy(), dtype=np.int64) // 1_000_000
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:
        return np.array([parse_time(t, "at") for t in times], dtype=np.int64)
    except InvalidInput:
        return None


def refuse_first_bad(items: list[Any], now: int, skew_ms: int) -> None:
    """Raise InvalidInput naming the first bad reading of ``items`` (if any is bad)."""
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not READING_KEYS.issuperset(item):
            extra = sorted(set(item) - READING_KEYS) if isinstance(item, dict) else None
            raise InvalidInput(
                f"readings[{n}]: must be an object of sensor, value, at, unit"
                + (f" (unknown: {', '.join(extra)})" if extra else "")
            )
        sensor, value = item.get("sensor"), item.get("value")
        if not isinstance(sensor, str) or not 0 < len(sensor) <= 64:
            raise InvalidInput(f"readings[{n}]: sensor must be an id text, got {sensor!r}")
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidInput(f"readings[{n}]: value must be a finite number, got {value!r}")
        at = parse_time(item.get("at"), f"readings[{n}].at")
        if at > now + skew_ms:
            raise InvalidInput(
                f"readings[{n}]: at {item['at']} is in the future (more than "
                f"{skew_ms // 1000} s ahead of the server clock); nothing was written"
            )
        unit = item.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise InvalidInput(f"readings[{n}]: unit must be text")


def write_readings(alarms: Alarms, body: bytes, skew_ms: int) -> WriteReport:
    """Parse and write a batch body (in a worker thread: parsing 10,000 readings would hold
    the event loop), with the cyclic GC paused over its many short-lived objects."""
    with gc_paused():
        return alarms.write(parse_readings(body, now_ms(), skew_ms))


class ThresholdIn(BaseModel):
    """Bounds of a sensor or a device kind (any may be left out)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    min: float | None = None
    max: float | None = None
    rate: float | None = Field(None, gt=0, description="largest change per minute, either way")
    band: float = Field(0.0, ge=0, description="hysteresis: how far back inside to clear")
    rate_band: float = Field(0.0, ge=0)
    offline_minutes: float | None = Field(None, gt=0)
    category: str = Field("other", max_length=64, description="of the incident an alarm opens")
    priority: str = Field("high", max_length=16)


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["sensors"])
    access = ctx.access

    @router.post(
        "/v1/readings",
        summary="A batch of up to 10,000 sensor readings (alarms evaluated on write)",
        dependencies=[Depends(access.require("readings.write"))],
    )
    async def post_readings(request: Request, tasks: BackgroundTasks) -> Response:
        skew = int(ctx.settings.live.future_skew_s * 1000)
        body = await read_body(request, MAX_BODY)
        report = await asyncio.to_thread(write_readings, ctx.alarms, body, skew)
        if report.alarms:  # their incidents: after the answer (the live worker repairs a crash)
            tasks.add_task(asyncio.to_thread, ctx.alarms.sync, report.alarms)
        return json_response(
            {
                "accepted": report.accepted,
                "stored": report.stored,
                "evaluated": report.evaluated,
                "alarms": [alarm_view(a) for a in report.alarms],
            }
        )

    @router.get(
        "/v1/sensors/{sensor_id}/readings",
        summary="A sensor's reading history in a time range",
        dependencies=[Depends(access.read())],
    )
    def sensor_readings(
        sensor_id: str,
        start: str | None = Query(None, description="ISO 8601, inclusive"),
        end: str | None = Query(None, description="ISO 8601, inclusive"),
        limit: int = Query(10_000, ge=1, le=100_000),
    ) -> Response:
        first = None if start is None else parse_time(start, "start")
        last = None if end is None else parse_time(end, "end")
        rows = ctx.readings.history(sensor_id, first, last, limit)
        return json_response({"sensor": sensor_id, "readings": rows})

    @router.put(
        "/v1/thresholds/{scope}/{target}",
        summary="Set the alarm threshold of a sensor (scope sensor) or a device kind",
        dependencies=[Depends(access.require("thresholds.manage"))],
    )
    def put_threshold(scope: str, target: str, threshold: ThresholdIn) -> Response:
        ctx.store.taxonomy.check_category(threshold.category)
        ctx.readings.set_threshold(scope, target, Threshold(**threshold.model_dump()), now_ms())
        return json_response({"scope": scope, "target": target, **threshold.model_dump()})

    @router.get("/v1/thresholds", summary="Every threshold", dependencies=[Depends(access.read())])
    def get_thresholds() -> Response:
        return json_response({"thresholds": ctx.readings.thresholds()})

    @router.delete(
        "/v1/thresholds/{scope}/{target}",
        summary="Remove a threshold",
        status_code=204,
        dependencies=[Depends(access.require("thresholds.manage"))],
    )
    def delete_threshold(scope: str, target: str) -> Response:
        ctx.readings.delete_threshold(scope, target)
        return Response(status_code=204)

    @router.get("/v1/alarms", summary="Alarms, newest first", dependencies=[Depends(access.read())])
    def get_alarms(
        sensor: str | None = None,
        state: str | None = Query(None, pattern="^(open|cleared)$"),
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> Response:
        rows = ctx.readings.alarms(sensor, state, limit)
        return json_response({"alarms": [alarm_view(a) for a in rows]})

    @router.get("/v1/alarms/{alarm_id}", summary="One alarm", dependencies=[Depends(access.read())])
    def get_alarm(alarm_id: str) -> Response:
        return json_response(alarm_view(ctx.readings.alarm(alarm_id)))

    return router
