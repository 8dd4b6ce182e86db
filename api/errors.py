"""One place that turns core errors into HTTP answers with a JSON body.

Every body has ``code`` (an OGC-style exception code), ``description`` and
``status``, e.g. ``{"code": "NotFound", "description": "no unit 4101", "status": 404}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import CityAwareError

_CODES = {400: "InvalidParameterValue", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}


def error_response(status: int, description: str, code: str | None = None) -> JSONResponse:
    """Build the JSON error answer used everywhere."""
    code = code or _CODES.get(status, "Error")
    return JSONResponse(
        {"code": code, "description": description, "status": status}, status_code=status
    )


def _describe_validation(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query"))
        parts.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Map core errors, validation errors and HTTP errors to JSON bodies."""

    @app.exception_handler(CityAwareError)
    async def _core(_: Request, error: CityAwareError) -> JSONResponse:
        return error_response(error.status, str(error), error.code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, _describe_validation(error))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail))
