"""cityaware's spatial core: boundaries, coordinates, the point-in-grid engine, the store.

Nothing here imports the web layer (``api``) or the map layers (``layers``).
"""
