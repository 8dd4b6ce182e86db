"""Sensor thresholds with hysteresis: when an alarm opens, stays open and clears.

A :class:`Threshold` bounds a sensor's value (``min``, ``max``), its rate of change
(``rate``, units per minute, either direction) and its silence (``offline_minutes``).
An alarm *opens* on the first reading past a bound, *stays open* while readings are
still bad, and *clears* only when a reading is back inside the bounds by the hysteresis
band (``band`` for values, ``rate_band`` for rates): a value that wobbles around a bound
opens one alarm, not one per crossing.

>>> t = Threshold(max=10.0, band=1.0)
>>> step = evaluate(t, SensorState(value=5.0, at=0),
...     [(60_000, 11.0), (120_000, 9.5), (180_000, 10.5), (240_000, 8.9)])
>>> [(e.op, e.at) for e in step.events]
[('open', 60000), ('clear', 240000)]
>>> step.episodes[0].bad_readings, step.episodes[0].worst, step.open
(3, 11.0, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

MINUTE_MS = 60_000
RULES = ("value", "offline")


@dataclass(frozen=True)
class Threshold:
    """Bounds of one sensor or device kind; ``None`` switches a bound off."""

    min: float | None = None
    max: float | None = None
    rate: float | None = None
    band: float = 0.0
    rate_band: float = 0.0
    offline_minutes: float | None = None
    category: str = "other"
    priority: str = "high"

    def breach(self, value: float, rate: float | None) -> str | None:
        """Which bound a reading crosses (opening an alarm), or None.

        >>> Threshold(min=0.0).breach(-1.0, None), Threshold(rate=2.0).breach(5.0, -3.0)
        ('min', 'rate')
        """
        if self.min is not None and value < self.min:
            return "min"
        if self.max is not None and value > self.max:
            return "max"
        if self.rate is not None and rate is not None and abs(rate) > self.rate:
            return "rate"
        return None

    def still_bad(self, value: float, rate: float | None) -> bool:
        """True while an open alarm must stay open (not yet back by the band).

        >>> Threshold(max=10.0, band=1.0).still_bad(9.5, None)
        True
        """
        if self.min is not None and value < self.min + self.band:
            return True
        if self.max is not None and value > self.max - self.band:
            return True
        return (
            self.rate is not None
            and rate is not None
            and abs(rate) > max(self.rate - self.rate_band, 0.0)
        )

    @cached_property
    def checks_values(self) -> bool:
        """True when any value bound is set."""
        return any(v is not None for v in (self.min, self.max, self.rate))


@dataclass(frozen=True)
class SensorState:
    """What the evaluation needs of a sensor: its last reading and whether its value alarm
    is open."""

    value: float | None = None
    at: int | None = None
    open: bool = False


@dataclass(frozen=True)
class AlarmEvent:
    """An alarm opening or clearing at a reading."""

    op: str  # 'open' or 'clear'
    at: int
    value: float
    reason: str | None = None


@dataclass
class Episode:
    """One open period of an alarm touched by a batch: ``opened`` is None when it was
    already open before the batch; ``cleared`` None while it stays open. ``bad_readings``,
    ``worst`` and ``last_bad`` describe the batch's readings while it was open."""

    opened: AlarmEvent | None = None
    cleared: AlarmEvent | None = None
    bad_readings: int = 0
    worst: float | None = None
    last_bad: tuple[int, float] | None = None


@dataclass
class Step:
    """The outcome of one sensor's new readings: the alarm episodes they touched, the last
    reading and whether the alarm is open after them."""

    episodes: list[Episode] = field(default_factory=list)
    last: tuple[int, float] | None = None
    open: bool = False

    @property
    def events(self) -> list[AlarmEvent]:
        """Openings and clearings in time order."""
        found = [e for ep in self.episodes for e in (ep.opened, ep.cleared) if e is not None]
        return sorted(found, key=lambda e: e.at)


def rate_per_minute(previous: tuple[int, float] | None, at: int, value: float) -> float | None:
    """Change per minute since ``previous`` ``(at, value)``; None without a usable one.

    >>> rate_per_minute((0, 1.0), 120_000, 5.0)
    2.0
    """
    if previous is None or at <= previous[0]:
        return None
    return (value - previous[1]) / ((at - previous[0]) / MINUTE_MS)


def evaluate(
    threshold: Threshold, state: SensorState, readings: Sequence[tuple[int, float]]
) -> Step:
    """Run ``readings`` ``(at_ms, value)`` (oldest first, each newer than ``state.at``)
    through the threshold; see the module doc."""
    step = Step(open=state.open)
    episode = Episode() if state.open else None
    previous = None if state.at is None or state.value is None else (state.at, state.value)
    for at, value in readings:
        rate = rate_per_minute(previous, at, value)
        if episode is None:
            reason = threshold.breach(value, rate)
            if reason is not None:
                episode = Episode(opened=AlarmEvent("open", at, value, reason))
        elif not threshold.still_bad(value, rate):
            episode.cleared = AlarmEvent("clear", at, value)
            step.episodes.append(episode)
            episode = None
        if episode is not None:
            episode.bad_readings += 1
            episode.last_bad = (at, value)
            if episode.worst is None or badness(threshold, value) > badness(
                threshold, episode.worst
            ):
                episode.worst = value
        previous = (at, value)
    if episode is not None and (episode.opened is not None or episode.bad_readings):
        step.episodes.append(episode)
    step.open = episode is not None
    step.last = previous if readings else None
    return step


def badness(threshold: Threshold, value: float) -> float:
    """How far past its bounds a value is (larger is worse; 0 inside them).

    >>> badness(Threshold(min=0.0, max=10.0), 12.0), badness(Threshold(max=10.0), 3.0)
    (2.0, 0.0)
    """
    scores = [0.0]
    if threshold.max is not None:
        scores.append(value - threshold.max)
    if threshold.min is not None:
        scores.append(threshold.min - value)
    return max(scores)
