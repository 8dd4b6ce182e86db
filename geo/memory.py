"""Memory helpers shared by the engine and the store.

>>> import gc
>>> with gc_paused():
...     gc.isenabled()
False
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small lists (no cycles).

    Each 700 new lists start a collection, and the survivors soon push full
    collections over every tracked object of the process (~7 ms per 18,000 lists
    in the locate benchmark; a 10,000-reading batch met 0.5 s full collections).
    Restores the previous state, so nesting and callers that turned the collector
    off themselves are unaffected.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
