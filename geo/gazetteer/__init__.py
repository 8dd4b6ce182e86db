"""Chinese address -> place -> grid: the gazetteer and its matcher (issue 8).

>>> from cityaware.geo.gazetteer import Gazetteer  # doctest: +SKIP
>>> gazetteer = Gazetteer.build(units, locator, "demo")  # doctest: +SKIP
>>> gazetteer.geocode("金水区纬五路12号院").grid_code  # doctest: +SKIP
'410105005008001'
"""

from cityaware.geo.gazetteer.active import ActiveGazetteer
from cityaware.geo.gazetteer.build import Gazetteer
from cityaware.geo.gazetteer.result import Candidate, GeocodeResult

__all__ = ["ActiveGazetteer", "Candidate", "Gazetteer", "GeocodeResult"]
