"""Bulk work past one process: locate partitioned files and re-assign a store on dask.

* :mod:`geo.bulk.pieces` finds the partitions of a folder, glob or partitioned
  dataset (GeoParquet, Parquet, CSV) and reads one;
* :mod:`geo.bulk.cluster` connects to a ``dask.distributed`` scheduler
  (``local:N`` or ``tcp://host:port``) and loads locators on workers from disk;
* :mod:`geo.bulk.locate` maps :func:`geo.engine.assign.assign_frame` over the
  partitions and writes a partitioned GeoParquet result, resumably;
* :mod:`geo.bulk.reassign` re-assigns a stored dataset through the same path;
* :mod:`geo.bulk.activation` switches the active generation crash-safely.
"""
