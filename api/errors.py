"""One place that turns core errors into HTTP answers with a JSON body.

Every body has ``code`` (an OGC-style exception code), ``description`` and
``status``, e.g. ``{"code": "NotFound", "description": "no unit 9999", "status": 404}``;
under ``/open311/`` the GeoReport v2 form ``[{"code": 404, "description": ...}]`` (XML
``<errors>`` for a ``.xml`` path). An
unexpected exception is a JSON 500 without its traceback (which goes to the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cityaware.geo.errors import CityAwareError

LOG = logging.getLogger("cityaware.errors")
_CODES = {
    400: "InvalidParameterValue",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "RequestTimeout",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "ServerError",
}


def error_response(status: int, description: str, code: str | None = None) -> JSONResponse:
    """Build the JSON error answer used everywhere."""
    code = code or _CODES.get(status, "Error")
    return JSONResponse(
        {"code": code, "description": description, "status": status}, status_code=status
    )


OPEN311_PREFIX = "/open311/"


def answer_for(
    request: Request, status: int, description: str, code: str | None = None
) -> Response:
    """The error answer for ``request``: Open311 clients get GeoReport v2's
    ``[{"code": status, "description": ...}]`` (or its XML), everyone else
    :func:`error_response`."""
    if request.url.path.startswith(OPEN311_PREFIX):
        from cityaware.api.service.georeport_xml import error_answer

        return error_answer(request.url.path, status, description)
    return error_response(status, description, code)


def _describe_validation(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Map core errors, validation errors and HTTP errors to JSON bodies."""

    @app.exception_handler(CityAwareError)
    async def _core(request: Request, error: CityAwareError) -> Response:
        answer = answer_for(request, error.status, str(error), error.code)
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            answer.headers["Retry-After"] = str(retry_after)
        return answer

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> Response:
        return answer_for(request, 400, _describe_validation(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        answer = answer_for(request, error.status_code, str(error.detail))
        if error.status_code in (408, 413):
            answer.headers["Connection"] = "close"  # the rest of the body is never read
        return answer

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        # a bug, never the client's fault: logged with its traceback, answered without it
        LOG.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return answer_for(request, 500, "internal server error (logged on the server)")
