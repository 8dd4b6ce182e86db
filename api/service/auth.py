"""API keys with roles, stored hashed under ``data_dir``, and the FastAPI guards.

Keys travel in the ``X-API-Key`` header. Each key has one role out of
:data:`ROLES`; :data:`PERMISSIONS` says which roles may do what. The admin key
is ``Settings.admin_key`` (``CITYAWARE_ADMIN_KEY``) and is never written to
disk; other keys live in ``<data_dir>/api-keys.json`` as SHA-256 digests (keys
are 256-bit random tokens, so a plain digest cannot be brute-forced and keeps
a lookup at one hash per request).

>>> import tempfile, pathlib
>>> store = KeyStore(pathlib.Path(tempfile.mkdtemp()) / "api-keys.json")
>>> secret, key = store.create("gis", label="qgis desk")
>>> store.identify(secret).role
'gis'
>>> store.identify("ca_wrong") is None
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader

from cityaware.api.service.limits import FailureLimiter
from cityaware.api.service.roles import ROLES
from cityaware.api.settings import Settings
from cityaware.geo.errors import CityAwareError, InvalidInput, NotFound

PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "incidents.create": frozenset({"service", "ops", "admin"}),
    "incidents.update": frozenset({"ops", "admin"}),
    "devices.write": frozenset({"service", "ops", "admin"}),
    "readings.write": frozenset({"service", "ops", "admin"}),
    "positions.write": frozenset({"service", "ops", "admin"}),
    "thresholds.manage": frozenset({"ops", "admin"}),
    "fences.manage": frozenset({"service", "ops", "admin"}),
    "hooks.manage": frozenset({"ops", "admin"}),
    "wall.emergency": frozenset({"ops", "admin"}),
    "keys.manage": frozenset({"admin"}),
}
KEY_FILE_NAME = "api-keys.json"
KEY_PREFIX = "ca_"
HEADER = "X-API-Key"
F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(CityAwareError):
    """No API key, or one this server does not know (401)."""

    status = 401
    code = "Unauthorized"


class Forbidden(CityAwareError):
    """A known key whose role may not do this (403)."""

    status = 403
    code = "Forbidden"


@dataclass(frozen=True)
class ApiKey:
    """What the server knows about a key: never the key itself."""

    id: str
    role: str
    label: str
    created: str


def digest(secret: str) -> str:
    """SHA-256 hex digest of a key, as stored.

    >>> digest("ca_x")[:12]
    '0b9788d6b9b9'
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


class KeyStore:
    """Hashed keys in one JSON file; re-read when another process changed it."""

    def __init__(self, path: Path, admin_key: str = "") -> None:
        self.path = path
        self._admin_digest = digest(admin_key) if admin_key else None
        self._by_digest: dict[str, ApiKey] = {}
        self._mtime: tuple[int, int, int] | None = None
        self._reload()

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._by_digest, self._mtime = {}, None
            return
        mtime = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if mtime == self._mtime:
            return
        records = json.loads(self.path.read_text(encoding="utf-8")).get("keys", [])
        self._by_digest = {
            r["sha256"]: ApiKey(r["id"], r["role"], r.get("label", ""), r.get("created", ""))
            for r in records
        }
        self._mtime = mtime

    def _write(self) -> None:
        records = [{"sha256": d, **asdict(k)} for d, k in self._by_digest.items()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"keys": records}, ensure_ascii=False, indent=1), "utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._mtime = None
        self._reload()

    def create(self, role: str, label: str = "") -> tuple[str, ApiKey]:
        """Make a key with ``role``; returns (secret shown once, record)."""
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        self._reload()
        secret = new_secret()
        created = datetime.now(UTC).isoformat(timespec="seconds")
        key = ApiKey(id=secrets.token_hex(4), role=role, label=label, created=created)
        self._by_digest[digest(secret)] = key
        self._write()
        return secret, key

    def revoke(self, key_id: str) -> ApiKey:
        """Delete the key with id ``key_id`` (NotFound if there is none)."""
        self._reload()
        for d, key in list(self._by_digest.items()):
            if key.id == key_id:
                del self._by_digest[d]
                self._write()
                return key
        raise NotFound(f"no API key with id {key_id!r}")

    def keys(self) -> list[ApiKey]:
        """Every stored key (the admin key from the settings is not listed)."""
        self._reload()
        return sorted(self._by_digest.values(), key=lambda k: k.created)

    def identify(self, secret: str) -> ApiKey | None:
        """The record of ``secret``, or None when it is unknown."""
        d = digest(secret)
        if self._admin_digest is not None and hmac.compare_digest(d, self._admin_digest):
            return ApiKey(id="admin", role="admin", label="CITYAWARE_ADMIN_KEY", created="")
        self._reload()  # one stat: sees keys created or revoked by the CLI meanwhile
        return self._by_digest.get(d)


def key_store_for(settings: Settings) -> KeyStore:
    """The key store of ``settings`` (file under ``data_dir``, admin key from settings)."""
    return KeyStore(Path(settings.data_dir) / KEY_FILE_NAME, settings.admin_key)


def ensure_admin_key(settings: Settings) -> Settings:
    """Settings with an admin key: the configured one, else a new one printed once.

    Used by ``cityaware serve``; the key also goes into the environment so that
    server worker processes share it.
    """
    from dataclasses import replace

    if settings.admin_key:
        check_admin_key(settings.admin_key)
        return settings
    secret = new_secret()
    os.environ["CITYAWARE_ADMIN_KEY"] = secret
    print(f"admin API key (X-API-Key, this run only): {secret}")
    return replace(settings, admin_key=secret)


_header = APIKeyHeader(name=HEADER, auto_error=False, description="API key; see `cityaware keys`")
MIN_ADMIN_KEY_CHARS = 32
MIN_ADMIN_KEY_DISTINCT = 12


def check_admin_key(secret: str) -> None:
    """Refuse an admin key that is short or visibly not random (ValueError says what to do).

    >>> check_admin_key(new_secret())
    >>> check_admin_key("admin")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: CITYAWARE_ADMIN_KEY is too weak (5 characters, 5 distinct): ...
    """
    if secret and (len(secret) < MIN_ADMIN_KEY_CHARS or len(set(secret)) < MIN_ADMIN_KEY_DISTINCT):
        raise ValueError(
            f"CITYAWARE_ADMIN_KEY is too weak ({len(secret)} characters, {len(set(secret))} "
            f"distinct): use at least {MIN_ADMIN_KEY_CHARS} random characters, e.g. the output "
            "of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )


def authenticate(store: KeyStore, secret: str | None, permission: str) -> ApiKey:
    """The key's record when its role has ``permission``; else Unauthorized/Forbidden."""
    if not secret:
        raise Unauthorized(f"this request needs an API key in the {HEADER} header")
    key = store.identify(secret)
    if key is None:
        raise Unauthorized("unknown API key")
    if key.role not in PERMISSIONS[permission]:
        allowed = ", ".join(sorted(PERMISSIONS[permission]))
        raise Forbidden(f"role {key.role!r} may not do {permission}; needs one of: {allowed}")
    return key


#: the permission of routes anyone may call (a key, when sent, must still be known)
PUBLIC = "public"
READ = "read"


@dataclass(frozen=True)
class Access:
    """Who may do what on one server: its key store, whether reads are public, and the
    per-client limit on failed keys (429 once a client has guessed too often).

    Every route declares its access once, with one of the dependencies :meth:`public`,
    :meth:`read` or :meth:`require` (or :meth:`declare` for a hot path that checks the
    header itself); :func:`route_permissions` reads the declarations back.

    >>> import tempfile, pathlib
    >>> access = Access(KeyStore(pathlib.Path(tempfile.mkdtemp()) / "k.json"), public_read=True)
    >>> access.check_read(None) is None
    True
    """

    keys: KeyStore
    public_read: bool = True
    failures: FailureLimiter = field(default_factory=FailureLimiter)

    def check(self, secret: str | None, permission: str, client: str = "") -> ApiKey:
        """The key's record when its role has ``permission`` (see :func:`authenticate`);
        a client over its failed-key budget gets TooManyRequests before any lookup."""
        if secret:
            self.failures.check(client)
        try:
            return authenticate(self.keys, secret, permission)
        except Unauthorized:
            if secret:
                self.failures.fail(client)
            raise

    def check_read(self, secret: str | None, client: str = "") -> ApiKey | None:
        """Reads are open when ``public_read`` (unless a key is sent: then it must be known),
        else they need any known key."""
        if self.public_read and not secret:
            return None
        return self.check(secret, READ, client)

    def check_public(self, secret: str | None, client: str = "") -> ApiKey | None:
        """Open to anyone; a key that is sent must be known."""
        return self.check(secret, READ, client) if secret else None

    def allow(self, permission: str, secret: str | None, client: str = "") -> ApiKey | None:
        """Check ``permission`` (``public``, ``read`` or one of :data:`PERMISSIONS`)."""
        if permission == PUBLIC:
            return self.check_public(secret, client)
        if permission == READ:
            return self.check_read(secret, client)
        return self.check(secret, permission, client)

    def require(self, permission: str) -> Callable[..., Awaitable[ApiKey | None]]:
        """FastAPI dependency: a key whose role has ``permission``.

        >>> # router.post("/x", dependencies=[Depends(ctx.access.require("incidents.create"))])
        """
        return self._dependency(permission)

    def read(self) -> Callable[..., Awaitable[ApiKey | None]]:
        """FastAPI dependency for reads (see :meth:`check_read`)."""
        return self._dependency(READ)

    def public(self) -> Callable[..., Awaitable[ApiKey | None]]:
        """FastAPI dependency for routes open to anyone (see :meth:`check_public`)."""
        return self._dependency(PUBLIC)

    def _dependency(self, permission: str) -> Callable[..., Awaitable[ApiKey | None]]:
        async def check(  # async: no thread hop
            request: Request, secret: str | None = Depends(_header)
        ) -> ApiKey | None:
            return self.allow(permission, secret, client_of(request))

        check.permission = permission  # type: ignore[attr-defined]
        return check

    @staticmethod
    def declare(permission: str, key_in_body: bool = False) -> Callable[[F], F]:
        """Decorator for an endpoint that checks the key itself (the hot path, a key in a
        form body): declares its ``permission`` as a dependency would."""

        def mark(endpoint: F) -> F:
            endpoint.permission = permission  # type: ignore[attr-defined]
            endpoint.key_in_body = key_in_body  # type: ignore[attr-defined]
            return endpoint

        return mark


def client_of(request: Request) -> str:
    """The client address the failed-key limit counts against."""
    return request.client.host if request.client else ""


def app_routes(app: Any) -> list[Any]:
    """Every APIRoute of ``app``, also those of included routers, with their full paths."""
    from fastapi.routing import APIRoute, iter_route_contexts

    return [c.route for c in iter_route_contexts(app.routes) if isinstance(c.route, APIRoute)]


def route_permissions(route: Any) -> set[str]:
    """Every permission an APIRoute declares (its dependencies', and its endpoint's own).

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> access = Access(KeyStore(Path("/nonexistent/k.json")))
    >>> @app.get("/x", dependencies=[Depends(access.read())])
    ... def x(): ...
    >>> route_permissions(app.routes[-1])
    {'read'}
    """
    found: set[str] = set()
    endpoint_permission = getattr(route.endpoint, "permission", None)
    if endpoint_permission:
        found.add(endpoint_permission)
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        permission = getattr(dependant.call, "permission", None)
        if permission:
            found.add(permission)
        pending.extend(dependant.dependencies)
    return found


# For routes that read the header themselves (the hot path): the same OpenAPI security.
SECURITY: list[dict[str, list[str]]] = [{_header.scheme_name: []}]
