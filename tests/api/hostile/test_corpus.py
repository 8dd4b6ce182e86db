"""The regression corpus (``corpus.json``: every request that once crashed, hung or
exhausted the server, and more of each kind) against a live server: each answers its
expected status class with a JSON body, never a 5xx; the server stays alive after each
and its memory stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.api.hostile.conftest import ADMIN_KEY, rss_mb

CORPUS = json.loads((Path(__file__).parent / "corpus.json").read_text())
MAX_GROWTH_MB = 300  # over the server's memory after its first answers


def _send(client: httpx.Client, row: dict) -> httpx.Response:
    headers = {k: v.replace("$ADMIN", ADMIN_KEY) for k, v in row.get("headers", {}).items()}
    body = row.get("body")
    content = None if body is None else body.replace("$ADMIN", ADMIN_KEY)
    return client.request(
        row["method"],
        row["path"],
        params=row["query"],
        headers=headers,
        content=None if content is None else content.encode("utf-8", "surrogatepass"),
    )


@pytest.mark.slow
def test_no_request_of_the_corpus_crashes_exhausts_or_errs(server):
    process, url = server
    failures = []
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/collections/incidents/items", params={"filter": "status='x'"})
        baseline = rss_mb(process.pid)
        peak = baseline
        for i, row in enumerate(CORPUS):
            answer = _send(client, row)
            low = {"2xx": 200, "4xx": 400}[row["expect"]]
            shown = f"#{i} {row['method']} {row['path'][:60]} {str(row['query'])[:80]}"
            if not low <= answer.status_code < low + 100:
                failures.append(f"{shown}: {answer.status_code} {answer.text[:200]}")
            elif low == 400 and "json" not in answer.headers.get("content-type", ""):
                failures.append(f"{shown}: {answer.status_code} without a JSON body")
            alive = client.get("/healthz").status_code == 200  # a slow machine: no 1 s probe
            assert process.poll() is None and alive, f"the server died after {shown}"
            peak = max(peak, rss_mb(process.pid))
    assert not failures, "\n".join(failures)
    assert peak - baseline < MAX_GROWTH_MB, f"RSS grew from {baseline:.0f} to {peak:.0f} MB"
