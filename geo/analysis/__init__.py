"""Analyses over the feature store that are neither HTTP nor SQL: region statistics
(:mod:`geo.analysis.stats`) and recurring-category hotspots (:mod:`geo.analysis.hotspots`)."""
