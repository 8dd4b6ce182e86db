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
import json
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import Depends
from fastapi.security import APIKeyHeader

from cityaware.api.settings import Settings
from cityaware.geo.errors import CityAwareError, InvalidInput, NotFound

ROLES: tuple[str, ...] = ("service", "gis", "ops", "admin")
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
    "keys.manage": frozenset({"admin"}),
}
KEY_FILE_NAME = "api-keys.json"
KEY_PREFIX = "ca_"
HEADER = "X-API-Key"


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
        if d == self._admin_digest:
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
        return settings
    secret = new_secret()
    os.environ["CITYAWARE_ADMIN_KEY"] = secret
    print(f"admin API key (X-API-Key, this run only): {secret}")
    return replace(settings, admin_key=secret)


_header = APIKeyHeader(name=HEADER, auto_error=False, description="API key; see `cityaware keys`")


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


@dataclass(frozen=True)
class Access:
    """Who may do what on one server: its key store and whether reads are public.

    >>> import tempfile, pathlib
    >>> access = Access(KeyStore(pathlib.Path(tempfile.mkdtemp()) / "k.json"), public_read=True)
    >>> access.check_read(None) is None
    True
    """

    keys: KeyStore
    public_read: bool = True

    def check(self, secret: str | None, permission: str) -> ApiKey:
        """The key's record when its role has ``permission`` (see :func:`authenticate`)."""
        return authenticate(self.keys, secret, permission)

    def check_read(self, secret: str | None) -> ApiKey | None:
        """Reads are open when ``public_read`` (unless a key is sent: then it must be known),
        else they need any known key."""
        if self.public_read and not secret:
            return None
        return self.check(secret, "read")

    def require(self, permission: str) -> Callable[..., Awaitable[ApiKey]]:
        """FastAPI dependency: a key whose role has ``permission``.

        >>> # router.post("/x", dependencies=[Depends(ctx.access.require("incidents.create"))])
        """

        async def check(secret: str | None = Depends(_header)) -> ApiKey:  # async: no thread hop
            return self.check(secret, permission)

        return check

    def read(self) -> Callable[..., Awaitable[ApiKey | None]]:
        """FastAPI dependency for reads (see :meth:`check_read`)."""

        async def check(secret: str | None = Depends(_header)) -> ApiKey | None:
            return self.check_read(secret)

        return check


# For routes that read the header themselves (the hot path): the same OpenAPI security.
SECURITY = [{_header.scheme_name: []}]
