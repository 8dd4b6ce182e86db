"""Times in the store: epoch milliseconds, with clear errors for unusable values."""

from datetime import UTC, datetime

import pytest

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.times import from_ms, to_ms


@pytest.mark.parametrize(
    "text", ["2026-11-26T04:00:00Z", "2999-01-01T00:00:00Z", "1969-07-20T20:17:40Z"]
)
def test_to_ms_matches_python_datetime(text):
    expected = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert to_ms(text) == round(
        (expected - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000
    )
    assert from_ms(to_ms(text)) == text


@pytest.mark.parametrize("bad", ["not a time", "99999-01-01", "", True])
def test_unusable_times_are_invalid_input(bad):
    with pytest.raises(InvalidInput, match="time"):
        to_ms(bad)
