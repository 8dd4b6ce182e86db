"""Settings read from the environment and the command line.

>>> Settings.from_env({"CITYAWARE_DATA_DIR": "/srv/ca"}).data_dir.as_posix()
'/srv/ca'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cityaware.api.live_settings import LiveSettings, env_number
from cityaware.geo.boundaries.extent import DEFAULT_MARGIN_M

DEFAULT_DATA_DIR = "cityaware-data"
DEFAULT_CHANGES_RETENTION_DAYS = 7.0


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the server is reached.

    ``database_url`` empty means the embedded store (one SQLite file under
    ``data_dir``); a ``postgresql://`` URL means PostGIS. ``changes_retention_days``:
    how long the store's change feed (``/v1/changes``, ``/v1/events``) keeps its rows.
    ``cors_origins``: other web origins whose pages may call this server
    (``CITYAWARE_CORS_ORIGINS``, comma-separated; ``*`` only when reads are public).
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    admin_key: str = ""
    public_read: bool = True
    changes_retention_days: float = DEFAULT_CHANGES_RETENTION_DAYS
    cors_origins: tuple[str, ...] = ()
    live: LiveSettings = field(default_factory=lambda: LiveSettings())
    matter_radius_m: float = 100.0  # cases of one category this close ...
    matter_window_days: float = 7.0  # ... and this recent are one matter
    city_margin_m: float = DEFAULT_MARGIN_M  # written points: city's extent plus this

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            data_dir=Path(env.get("CITYAWARE_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("CITYAWARE_DATABASE_URL", ""),
            admin_key=env.get("CITYAWARE_ADMIN_KEY", ""),
            public_read=env.get("CITYAWARE_PUBLIC_READ", "1") not in ("0", "false", "no"),
            changes_retention_days=env_number(
                env, "CITYAWARE_CHANGES_RETENTION_DAYS", DEFAULT_CHANGES_RETENTION_DAYS, False
            ),
            cors_origins=_origins(env.get("CITYAWARE_CORS_ORIGINS", "")),
            live=LiveSettings.from_env(env),
            matter_radius_m=float(env.get("CITYAWARE_MATTER_RADIUS_M") or 100.0),
            matter_window_days=float(env.get("CITYAWARE_MATTER_WINDOW_DAYS") or 7.0),
            city_margin_m=float(env.get("CITYAWARE_CITY_MARGIN_M") or DEFAULT_MARGIN_M),
        )

    def with_data_dir(self, data_dir: str | Path | None) -> Settings:
        """Return a copy with ``data_dir`` replaced when one is given."""
        return self if data_dir is None else replace(self, data_dir=Path(data_dir))


def _origins(text: str) -> tuple[str, ...]:
    """Origins from ``CITYAWARE_CORS_ORIGINS`` (comma-separated, trailing slashes dropped).

    >>> _origins("https://a.example/, https://b.example")
    ('https://a.example', 'https://b.example')
    """
    return tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
