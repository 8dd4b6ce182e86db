"""Settings of the live city (readings, alarms, positions, fences, webhooks).

Each has an environment variable ``CITYAWARE_<NAME>`` (upper case).

>>> LiveSettings.from_env({"CITYAWARE_READINGS_RETENTION_DAYS": "3"}).readings_retention_days
3.0
>>> LiveSettings.from_env({"CITYAWARE_HOOK_MAX_ATTEMPTS": "x"})
Traceback (most recent call last):
ValueError: CITYAWARE_HOOK_MAX_ATTEMPTS must be a positive number, got 'x'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import cast


@dataclass(frozen=True)
class LiveSettings:
    """``readings_retention_days``/``tracks_retention_days``: history kept;
    ``future_skew_s``: how far ahead of the server clock a reading or position may be;
    ``alarm_sync_s``: how often further bad readings update an open alarm's incident;
    ``fence_min_distance_m``/``fence_dwell_s``: default fence hysteresis;
    ``position_max_outside_m``: a position farther outside every grid is refused (wrong CRS);
    ``hook_*``: webhook delivery (timeout, attempts before the dead-letter store, backoff);
    ``worker_interval_s``: how often the live worker delivers webhooks (0: no worker in this
    process); ``alarm_sweep_s``: how often it looks for offline sensors and lost incidents;
    ``rules_every_s``: how often it evaluates the built-in live rules."""

    readings_retention_days: float = 30.0
    tracks_retention_days: float = 7.0
    future_skew_s: float = 300.0
    alarm_sync_s: float = 60.0
    fence_min_distance_m: float = 10.0
    fence_dwell_s: float = 0.0
    position_max_outside_m: float = 50_000.0
    hook_timeout_s: float = 5.0
    hook_max_attempts: float = 8.0
    hook_backoff_s: float = 1.0
    hook_backoff_max_s: float = 300.0
    worker_interval_s: float = 0.2
    alarm_sweep_s: float = 30.0
    rules_every_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LiveSettings:
        """Every field from ``CITYAWARE_<NAME>`` when set (:func:`env_number`)."""
        return cls(
            **{
                f.name: env_number(env, f"CITYAWARE_{f.name.upper()}", cast(float, f.default))
                for f in fields(cls)
            }
        )


def env_number(env: Mapping[str, str], name: str, default: float, zero_ok: bool = True) -> float:
    """The finite number >= 0 (> 0 unless ``zero_ok``) in ``env[name]``, ``default`` when
    unset or empty; ValueError names the variable.

    >>> env_number({"N": "0.5"}, "N", 7.0), env_number({}, "N", 7.0)
    (0.5, 7.0)
    >>> env_number({"N": "0"}, "N", 7.0, zero_ok=False)
    Traceback (most recent call last):
    ValueError: N must be a positive number, got '0'
    """
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 if zero_ok else value > 0) or value == float("inf"):
        raise ValueError(f"{name} must be a positive number, got {text!r}")
    return value
