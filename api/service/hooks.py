"""Webhook delivery: a worker thread follows the change feed for every hook.

Writes never wait for a hook: they only append to the change feed; the
:class:`LiveWorker` thread (started with the server) claims due hooks and delivers
each one's events in its own pool thread, so a slow or dead receiver delays only its
own hook. A delivery is ``POST <url>`` with the JSON event
``{"hook", "seq", "type", "time", "data"}`` and the headers ``X-Cityaware-Hook``,
``X-Cityaware-Seq``, ``X-Cityaware-Event`` and ``X-Cityaware-Signature: sha256=<hex>``
(HMAC-SHA256 of the body with the hook's secret). Any 2xx answer acknowledges it; else
it is retried with exponential backoff, and after ``hook_max_attempts`` attempts kept
in the dead-letter store (``GET /v1/hooks/{id}/dead-letters``) and skipped.

>>> sign(b"{}", "s3cret")
'sha256=adbde1ce40c89c14215687d5d762a47df6dfaefcfad61e2e86718ffc8498571b'
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

import orjson

from cityaware.geo.store.hooks import HookStore, backoff_ms
from cityaware.geo.store.times import now_ms

if TYPE_CHECKING:
    from cityaware.api.live_settings import LiveSettings
    from cityaware.api.service.alarms import Alarms
    from cityaware.api.service.live_events import LiveFeed
    from cityaware.api.service.rules import LiveRules

LOG = logging.getLogger(__name__)
PAGE = 500
ROUND_EVENTS = 2_000  # per hook and round, so one busy hook does not hold its thread forever
Sender = Callable[[str, bytes, dict[str, str], float], int]


def sign(body: bytes, secret: str) -> str:
    """The signature header value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _split(text: str | None) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def wants(hook: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether ``hook``'s subscription covers ``event`` (types as glob patterns; fences,
    object kinds and region-code prefixes when given).

    >>> hook = {"events": "fence.*", "fences": "f1", "kinds": None, "regions": "990105"}
    >>> wants(hook, {"type": "fence.enter", "data": {"fence": "f1", "key": "worker",
    ...     "grid_code": "990105001001001"}})
    True
    >>> wants(hook, {"type": "alarm.open", "data": {}})
    False
    """
    if not any(fnmatchcase(event["type"], p) for p in _split(hook["events"])):
        return False
    data = event["data"]
    fences = _split(hook.get("fences"))
    if fences and event["type"].startswith("fence.") and data.get("fence") not in fences:
        return False
    kinds = _split(hook.get("kinds"))
    if kinds:
        kind = data.get("key") or str(data.get("id", "")).split(":")[0]
        if event["type"].startswith(("fence.", "object.")) and kind not in kinds:
            return False
    regions = _split(hook.get("regions"))
    if regions:
        grids = [data.get(k) for k in ("grid_code", "new_grid", "old_grid")]
        if not any(g and g.startswith(tuple(regions)) for g in grids):
            return False
    return True


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; returns the HTTP status (OSError/URLError for no answer)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class Deliverer:
    """One delivery round over the due hooks (see the module doc)."""

    def __init__(
        self, hooks: HookStore, feed: LiveFeed, live: LiveSettings, send: Sender = http_post
    ) -> None:
        self.hooks, self.feed, self.live, self.send = hooks, feed, live, send
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="hook")

    def run_once(self) -> int:
        """Deliver what is due for every hook; returns the events acknowledged."""
        claimed = self.hooks.claim(now_ms())
        return sum(self.pool.map(self._deliver_hook, claimed))

    def _deliver_hook(self, hook: dict[str, Any]) -> int:
        done = 0
        try:
            while done < ROUND_EVENTS:
                events, upto = self.feed.page(hook["cursor"], PAGE)
                wanted = [e for e in events if wants(hook, e)]
                for event in wanted:
                    if not self._send(hook, event):
                        return done
                    done += 1
                    hook["cursor"] = event["seq"]
                if upto > hook["cursor"]:
                    self.hooks.advance(hook["id"], upto, delivered=False)
                    hook["cursor"] = upto
                if not events and upto == hook["cursor"]:
                    break
        except Exception:  # a bad hook must not stop the others
            LOG.exception("delivery to hook %s failed", hook["id"])
        finally:
            self.hooks.release(hook["id"])
        return done

    def _send(self, hook: dict[str, Any], event: dict[str, Any]) -> bool:
        """Deliver one event; False when the hook must wait (failure, retry scheduled)."""
        payload = {"hook": hook["id"], **event}
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Cityaware-Hook": hook["id"],
            "X-Cityaware-Seq": str(event["seq"]),
            "X-Cityaware-Event": event["type"],
            "X-Cityaware-Signature": sign(body, hook["secret"]),
        }
        try:
            status = self.send(hook["url"], body, headers, self.live.hook_timeout_s)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except OSError as failure:  # refused, timed out, unreachable
            error = f"{type(failure).__name__}: {failure}"
        if error is None:
            self.hooks.advance(hook["id"], event["seq"], delivered=True)
            return True
        attempts = hook["attempts"] + 1
        if attempts >= self.live.hook_max_attempts:
            self.hooks.dead_letter(hook, event["seq"], body.decode(), error, now_ms())
            hook["attempts"], hook["cursor"] = 0, event["seq"]
            return True
        wait = backoff_ms(
            attempts, int(self.live.hook_backoff_s * 1000), int(self.live.hook_backoff_max_s * 1000)
        )
        self.hooks.failed(hook["id"], error, now_ms() + wait)
        return False


class LiveWorker:
    """The server's background thread: webhook rounds every ``worker_interval_s``, the
    alarm sweep (offline sensors, incidents a crash left behind) every ``alarm_sweep_s``
    and the built-in live rules every ``rules_every_s``."""

    def __init__(
        self,
        deliverer: Deliverer,
        alarms: Alarms,
        live: LiveSettings,
        rules: LiveRules | None = None,
    ) -> None:
        self.deliverer, self.alarms, self.live, self.rules = deliverer, alarms, live, rules
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a no-op when it runs)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="live-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current round."""
        self._stop.set()
        if self._thread is not None:  # a round cut short is safe: deliveries and syncs repeat
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        last_sweep = last_rules = 0.0
        while not self._stop.is_set():
            try:
                self.deliverer.run_once()
                if now_ms() - last_sweep >= self.live.alarm_sweep_s * 1000:
                    last_sweep = now_ms()
                    self.alarms.sweep()
                if self.rules and now_ms() - last_rules >= self.live.rules_every_s * 1000:
                    last_rules = now_ms()
                    self.rules.evaluate()
            except Exception:  # keep going: the next round retries
                LOG.exception("live worker round failed")
            self._stop.wait(self.live.worker_interval_s)
