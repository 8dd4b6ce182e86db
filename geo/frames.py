"""Typed rows of pandas frames.

``DataFrame.itertuples`` yields namedtuples whose fields pandas-stubs cannot know
(they are the frame's columns), so each field reads as "any scalar". A row
class (never instantiated: mypy takes no Protocol for ``type[...]``) declares the
columns a loop reads and their types; :func:`rows` yields the rows as that class.

>>> import pandas as pd
>>> class Named:
...     name: str
>>> [row.name for row in rows(pd.DataFrame({"name": ["a", "b"]}), Named)]
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar, cast

import pandas as pd

Row = TypeVar("Row")


def rows(frame: pd.DataFrame, shape: type[Row]) -> Iterator[Row]:
    """``frame.itertuples()``, typed as rows of ``shape`` (a class declaring its columns)."""
    return cast(Iterator[Row], frame.itertuples())
