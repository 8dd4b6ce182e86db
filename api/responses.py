"""The one JSON response helper of the HTTP layer (orjson: numpy, datetimes, NaN as null).

>>> import numpy as np
>>> response = json_response({"n": np.arange(2), "x": float("nan")}, status_code=201)
>>> response.status_code, response.body
(201, b'{"n":[0,1],"x":null}')
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

JSON = "application/json"


def json_response(body: Any, media: str = JSON, status_code: int = 200) -> Response:
    """``body`` serialised with orjson (numpy arrays as lists, other objects by ``str``)
    as a response of ``media`` type."""
    content = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str)
    return Response(content, status_code=status_code, media_type=media)
