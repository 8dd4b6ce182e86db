"""Run by Debian's /usr/bin/python3 (QGIS's own Python): open an OAPIF layer and print, as
one JSON line, which editing capabilities QGIS's provider offers for it, and the same for
GDAL's OAPIF driver (the OGR layer's write capabilities).

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_capabilities.py URL COLLECTION
"""

import json
import sys

from osgeo import gdal, ogr
from qgis.core import Qgis, QgsApplication, QgsVectorDataProvider, QgsVectorLayer

EDITING = ("AddFeatures", "DeleteFeatures", "ChangeAttributeValues", "ChangeGeometries")
OGR_WRITES = (ogr.OLCSequentialWrite, ogr.OLCRandomWrite, ogr.OLCDeleteFeature)


def main(url: str, collection: str) -> dict:
    layer = QgsVectorLayer(f"url='{url}' typename='{collection}'", collection, "OAPIF")
    provider = layer.dataProvider()
    flags = provider.capabilities()
    out = {
        "qgis": Qgis.QGIS_VERSION,
        "valid": layer.isValid(),
        "count": layer.featureCount(),
        "capabilities": provider.capabilitiesString(),
        "editing": {name: bool(flags & getattr(QgsVectorDataProvider, name)) for name in EDITING},
    }
    gdal.UseExceptions()
    driver = gdal.GetDriverByName("OAPIF")
    metadata = driver.GetMetadata()
    out["gdal"] = gdal.__version__
    out["gdal_driver_create"] = metadata.get("DCAP_CREATE") == "YES"
    try:
        source = gdal.OpenEx(f"OAPIF:{url}", gdal.OF_VECTOR | gdal.OF_UPDATE)
        out["gdal_update_open"] = source is not None
    except RuntimeError as error:
        out["gdal_update_open"] = False
        out["gdal_update_error"] = str(error)[:300]
    source = gdal.OpenEx(f"OAPIF:{url}", gdal.OF_VECTOR)
    ogr_layer = source.GetLayerByName(collection)
    out["gdal_layer_writes"] = {str(c): bool(ogr_layer.TestCapability(c)) for c in OGR_WRITES}
    return out


if __name__ == "__main__":
    app = QgsApplication([], False)
    app.initQgis()
    print(json.dumps(main(*sys.argv[1:3])))
    app.exitQgis()
