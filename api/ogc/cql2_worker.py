"""CQL2 parsing in child processes, so that no filter can take the server down.

The ``cql2`` extension segfaults on deeply nested input and spends megabytes per
``NOT``; :mod:`cityaware.api.ogc.filters` bounds the text first, and this module
runs the parser itself in a small pool of child processes (this file run as a
script: JSON lines in, JSON lines out). A crash or a parse over the time limit
costs the child, which is replaced; a child whose peak memory grew past
``max_rss_mb`` is replaced after its answer, so the memory is given back.

>>> pool = ParserPool(size=1)
>>> pool.parse("n > 2", "cql2-text")
{'op': '>', 'args': [{'property': 'n'}, 2.0]}
>>> pool.close()
"""

from __future__ import annotations

import json
import queue
import select
import subprocess
import sys
from typing import Any

TIMEOUT_S = 5.0
MAX_RSS_MB = 400


class ParseFailed(Exception):
    """The filter could not be parsed; ``str()`` says why (for a 400)."""


class ParserProcess:
    """One child running :func:`serve`; ``parse`` sends it one filter."""

    def __init__(self, timeout: float = TIMEOUT_S, max_rss_mb: int = MAX_RSS_MB) -> None:
        self.timeout, self.max_rss_mb = timeout, max_rss_mb
        self.process = subprocess.Popen(
            [sys.executable, "-I", __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def parse(self, text: str, lang: str) -> tuple[Any, bool]:
        """(CQL2 JSON tree, whether the child is still usable); ParseFailed on bad text."""
        assert self.process.stdin is not None and self.process.stdout is not None
        ready: list[Any] = []
        try:
            self.process.stdin.write(json.dumps({"text": text, "lang": lang}).encode() + b"\n")
            self.process.stdin.flush()
            ready, _, _ = select.select([self.process.stdout], [], [], self.timeout)
            line = self.process.stdout.readline() if ready else b""
        except (BrokenPipeError, OSError):
            line = b""
        if not line:
            self.close()
            if ready:
                raise ParseFailed("the filter crashed the CQL2 parser; simplify it")
            raise ParseFailed(f"the filter took over {self.timeout:g} s to parse; simplify it")
        answer = json.loads(line)
        usable = answer["rss_mb"] <= self.max_rss_mb
        if "error" in answer:
            if not usable:
                self.close()
            raise ParseFailed(answer["error"])
        return answer["tree"], usable

    def close(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class ParserPool:
    """``size`` parser children, started on first use and replaced when they die or bloat."""

    def __init__(self, size: int = 2, timeout: float = TIMEOUT_S) -> None:
        self.timeout = timeout
        self.idle: queue.Queue[ParserProcess | None] = queue.Queue()
        for _ in range(size):
            self.idle.put(None)  # started lazily

    def parse(self, text: str, lang: str) -> Any:
        """The CQL2 JSON tree of ``text`` in ``lang`` (ParseFailed says what is wrong)."""
        child = self.idle.get()
        try:
            if child is None or not child.alive():
                child = ParserProcess(self.timeout)
            tree, usable = child.parse(text, lang)
            if not usable:
                child.close()
            return tree
        finally:
            self.idle.put(child if child is not None and child.alive() else None)

    def close(self) -> None:
        while not self.idle.empty():
            child = self.idle.get_nowait()
            if child is not None:
                child.close()


def serve() -> None:  # pragma: no cover - runs in the child
    """The child's loop: one JSON request per line on stdin, one answer per line on stdout."""
    import resource

    import cql2

    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            if request["lang"] == "cql2-json":
                expr = cql2.parse_json(request["text"])
            else:
                expr = cql2.parse_text(request["text"])
            expr.validate()
            answer: dict[str, Any] = {"tree": expr.to_json()}
        except Exception as error:  # cql2 raises Exception, ParseError or ValidationError
            answer = {"error": " ".join(str(error).split())[:300]}
        answer["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":  # pragma: no cover
    serve()
