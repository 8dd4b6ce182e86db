"""Data shipped with cityaware (the demo city's boundaries and profile), read through
``importlib.resources.files("cityaware.data")`` so an installed wheel finds it too."""
