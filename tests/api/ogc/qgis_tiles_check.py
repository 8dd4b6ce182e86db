"""Run by Debian's system Python (python3-qgis), not the venv: QGIS 3.22 opens one collection's
vector tiles as an XYZ vector tile layer styled by ``/styles/wall/style.json`` and renders them.

Usage: ``python3 qgis_tiles_check.py URL COLLECTION QUERY WEST SOUTH EAST NORTH`` prints one
JSON line: layer valid, style loaded, the styles QGIS made for the collection's MVT layer,
and how many sampled pixels it drew in a colour other than black and the style's background.
"""

from __future__ import annotations

import json
import sys

SIZE = 512


def main(url: str, collection: str, query: str, box: list[float], background: str) -> dict:
    from qgis.core import (
        QgsApplication,
        QgsCoordinateReferenceSystem,
        QgsCoordinateTransform,
        QgsDataSourceUri,
        QgsMapRendererSequentialJob,
        QgsMapSettings,
        QgsProject,
        QgsRectangle,
        QgsVectorTileLayer,
    )
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    app = QgsApplication([], False)
    app.initQgis()
    uri = QgsDataSourceUri()
    uri.setParam("type", "xyz")
    tiles = f"{url}/collections/{collection}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}"
    uri.setParam("url", tiles + (f"?{query}" if query else ""))
    uri.setParam("zmin", "0")
    uri.setParam("zmax", "22")
    uri.setParam("styleUrl", f"{url}/styles/wall/style.json")
    layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), collection)
    _, styled = layer.loadDefaultStyle()
    styles = [s.styleName() for s in layer.renderer().styles() if s.layerName() == collection]
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setBackgroundColor(QColor(0, 0, 0))
    mercator = QgsCoordinateReferenceSystem("EPSG:3857")
    settings.setDestinationCrs(mercator)
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    to_mercator = QgsCoordinateTransform(wgs84, mercator, QgsProject.instance())
    settings.setExtent(to_mercator.transformBoundingBox(QgsRectangle(*box)))
    settings.setOutputSize(QSize(SIZE, SIZE))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    plain = {0, QColor(background).rgb() & 0xFFFFFF}
    drawn = sum(
        (image.pixelColor(x, y).rgb() & 0xFFFFFF) not in plain
        for x in range(0, SIZE, 2)
        for y in range(0, SIZE, 2)
    )
    result = {"valid": layer.isValid(), "styled": bool(styled), "styles": styles, "drawn": drawn}
    app.exitQgis()
    return result


if __name__ == "__main__":
    url, collection, query, *numbers, background = sys.argv[1:]
    print(json.dumps(main(url, collection, query, [float(v) for v in numbers], background)))
