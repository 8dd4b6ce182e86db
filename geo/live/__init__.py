"""The live city without SQL: alarm thresholds (:mod:`.alarms`), fence geometry and
hysteresis (:mod:`.fences`). The store modules that persist them live in ``geo.store``."""
