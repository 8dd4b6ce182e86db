"""Settings read from the environment and the command line.

>>> Settings.from_env({"CITYAWARE_DATA_DIR": "/srv/ca"}).data_dir.as_posix()
'/srv/ca'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATA_DIR = "cityaware-data"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the server is reached.

    ``database_url`` empty means the embedded store (one SQLite file under
    ``data_dir``); a ``postgresql://`` URL means PostGIS.
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    admin_key: str = ""
    public_read: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            data_dir=Path(env.get("CITYAWARE_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("CITYAWARE_DATABASE_URL", ""),
            admin_key=env.get("CITYAWARE_ADMIN_KEY", ""),
            public_read=env.get("CITYAWARE_PUBLIC_READ", "1") not in ("0", "false", "no"),
        )

    def with_data_dir(self, data_dir: str | Path | None) -> Settings:
        """Return a copy with ``data_dir`` replaced when one is given."""
        return self if data_dir is None else replace(self, data_dir=Path(data_dir))
