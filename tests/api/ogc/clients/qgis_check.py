"""Run by Debian's /usr/bin/python3 (QGIS's own Python, not the venv): open an OAPIF layer
on QGIS's defaults and print what QGIS sees as one JSON line.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_check.py URL COLLECTION BBOX SUBSET
"""

import json
import sys
import time

from qgis.core import QgsApplication, QgsFeatureRequest, QgsRectangle, QgsVectorLayer


def main(url: str, collection: str, bbox: str, subset: str) -> dict:
    started = time.perf_counter()
    layer = QgsVectorLayer(f"url='{url}' typename='{collection}'", collection, "OAPIF")
    out = {"valid": layer.isValid(), "count": layer.featureCount()}
    out["fields"] = {f.name(): f.typeName() for f in layer.fields()}
    out["geometry_type"] = layer.wkbType()
    rect = QgsRectangle(*(float(v) for v in bbox.split(",")))
    out["bbox_ids"] = sorted(
        str(f["id"]) for f in layer.getFeatures(QgsFeatureRequest().setFilterRect(rect))
    )
    layer.setSubsetString(subset)
    out["subset_ids"] = sorted(str(f["id"]) for f in layer.getFeatures())
    out["seconds"] = time.perf_counter() - started
    return out


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    print(json.dumps(main(*sys.argv[1:5])))
    app.exitQgis()
