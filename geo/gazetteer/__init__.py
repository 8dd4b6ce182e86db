"""Chinese address -> place -> grid: the gazetteer and its matcher (issue 8).

>>> from geo.gazetteer import Gazetteer  # doctest: +SKIP
>>> gazetteer = Gazetteer.build(units, locator, "demo")  # doctest: +SKIP
>>> gazetteer.geocode("金水区纬五路12号院").grid_code  # doctest: +SKIP
'410105005008001'
"""

from geo.gazetteer.active import ActiveGazetteer
from geo.gazetteer.build import Gazetteer
from geo.gazetteer.result import Candidate, GeocodeResult

__all__ = ["ActiveGazetteer", "Candidate", "Gazetteer", "GeocodeResult"]
