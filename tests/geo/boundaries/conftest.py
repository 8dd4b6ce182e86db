"""Shared fixtures of the boundary tests."""

from __future__ import annotations

import pytest

from cityaware.geo.boundaries.generations import BoundaryRegistry


@pytest.fixture
def registry(tmp_path):
    """An empty registry in a fresh directory."""
    return BoundaryRegistry(tmp_path / "boundaries")
