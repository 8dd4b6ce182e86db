"""The API key roles, apart from :mod:`~api.service.auth` so that the command line can
list them without loading the web stack.

>>> ROLES[-1]
'admin'
"""

from __future__ import annotations

ROLES: tuple[str, ...] = ("service", "gis", "ops", "admin")
