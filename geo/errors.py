"""Errors of the spatial core, each carrying the HTTP status it maps to.

The web layer turns any :class:`CityAwareError` into a JSON answer with
``status`` and ``code``; the command line prints ``str(error)`` on one line.

>>> raise InvalidInput("latitude 134.6 is out of range [-90, 90]")
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: latitude 134.6 is out of range [-90, 90]
"""

from __future__ import annotations


class CityAwareError(Exception):
    """Base of every error the core raises on purpose."""

    status: int = 500
    code: str = "ServerError"


class InvalidInput(CityAwareError):
    """The caller's input cannot be used (bad coordinates, bad file, bad value)."""

    status = 400
    code = "InvalidParameterValue"


class Unprocessable(CityAwareError):
    """Well-formed input that cannot be acted on (e.g. an unsupported field)."""

    status = 422
    code = "Unprocessable"


class NotFound(CityAwareError):
    """The named thing (unit, generation, feature, collection) does not exist."""

    status = 404
    code = "NotFound"


class Conflict(CityAwareError):
    """The request contradicts the current state (illegal transition, duplicate)."""

    status = 409
    code = "Conflict"


class ChangesPruned(CityAwareError):
    """The change feed no longer holds the changes right after the asked-for seq (retention
    pruned them): start again from the newest seq (``GET /v1/changes?latest=true``)."""

    status = 410
    code = "Gone"


class Unavailable(CityAwareError):
    """A service the work needs (e.g. a dask scheduler) cannot be reached."""

    status = 503
    code = "ServiceUnavailable"
