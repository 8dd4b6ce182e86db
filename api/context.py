"""The objects one running server shares: settings, boundaries, engine, store.

Routes get it through the :func:`get_context` dependency; each part is built
on first use, so a command that needs only the store never builds the engine.

>>> ctx = AppContext(Settings())
>>> ctx.settings.data_dir.name
'cityaware-data'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from fastapi import Request

from api.settings import Settings


@dataclass
class AppContext:
    """Lazily built server state; one per app (tests build their own)."""

    settings: Settings

    @cached_property
    def registry(self):
        """The boundary generations under ``data_dir`` (issue: foundation)."""
        from geo.boundaries.generations import BoundaryRegistry

        return BoundaryRegistry(self.settings.data_dir / "boundaries")


def get_context(request: Request) -> AppContext:
    """FastAPI dependency: the app's :class:`AppContext`."""
    return request.app.state.ctx
