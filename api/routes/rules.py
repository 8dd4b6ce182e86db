"""The built-in live rules over HTTP (see :mod:`api.service.rules`).

    GET /v1/rules                      the rules in force (from rules.toml or the defaults)
    GET /v1/rules/events?rule=&limit=  their openings and clearings, newest first

The events are also in the change feed (kind ``rule_events``), on ``/v1/events``
(``rule-open``, ``rule-clear``) and deliverable to webhooks (``rule.*``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query, Response

from cityaware.api.responses import json_response
from cityaware.geo.live.rules import Rule

if TYPE_CHECKING:
    from cityaware.api.context import AppContext


def rule_view(rule: Rule) -> dict[str, Any]:
    """The public form of a rule.

    >>> rule_view(Rule("r", "offline", frozenset({"sensors"})))["kinds"]
    ['sensors']
    """
    out = asdict(rule)
    out["kinds"], out["days"] = sorted(rule.kinds), sorted(rule.days)
    out["duty"] = None if rule.duty is None else "-".join(t.strftime("%H:%M") for t in rule.duty)
    out["dwell_s"] = out.pop("dwell_ms") / 1000
    out["regions"] = list(rule.regions)
    return out


def build_router(ctx: AppContext) -> APIRouter:
    router = APIRouter(tags=["live rules"])
    read = [Depends(ctx.access.read())]

    @router.get("/v1/rules", summary="The built-in live rules in force", dependencies=read)
    def get_rules() -> Response:
        return json_response({"rules": [rule_view(r) for r in ctx.live_rules.rules()]})

    @router.get("/v1/rules/events", summary="Rule openings and clearings", dependencies=read)
    def get_rule_events(
        rule: str | None = Query(None, max_length=64),
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> Response:
        return json_response({"events": ctx.live_rules.store.events(rule, limit=limit)})

    return router
