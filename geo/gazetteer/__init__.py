"""Chinese address -> place -> grid: the gazetteer and its matcher (issue 8).

>>> from cityaware.geo.gazetteer import Gazetteer  # doctest: +SKIP
>>> gazetteer = Gazetteer.build(units, locator, "demo")  # doctest: +SKIP
>>> gazetteer.geocode("龙亭区中山路12号院").grid_code  # doctest: +SKIP
'410202005008001'
"""

from cityaware.geo.gazetteer.active import ActiveGazetteer
from cityaware.geo.gazetteer.build import Gazetteer
from cityaware.geo.gazetteer.result import Candidate, GeocodeResult

__all__ = ["ActiveGazetteer", "Candidate", "Gazetteer", "GeocodeResult"]
