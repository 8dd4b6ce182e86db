"""The wall's colour language: status colours, the alarm colour, the choropleth ramp and the
heatmap never share a hue; devices are muted greys unless in alarm or offline; clusters
are hueless and grow lighter with their count."""

from __future__ import annotations

import colorsys

from cityaware.layers.style import WALL_STYLE

MIN_HUE_GAP = 20.0  # degrees
GREY = 0.15  # saturation below which a colour reads as hueless


def hsv(colour: str) -> tuple[float, float, float]:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    return h * 360, s, v


def hues(colours) -> list[float]:
    return [hsv(c)[0] for c in colours if hsv(c)[1] >= GREY]


def gap(a: float, b: float) -> float:
    return min(abs(a - b), 360 - abs(a - b))


def test_status_alarm_and_choropleth_hues_are_apart():
    s = WALL_STYLE
    families = {
        "status": hues(s["status"].values()),
        "alarm": hues([s["alarm"]]),
        "choropleth": hues(c for _, c in s["choropleth"]),
    }
    names = list(families)
    for i, one in enumerate(names):
        for other in names[i + 1 :]:
            for a in families[one]:
                for b in families[other]:
                    assert gap(a, b) >= MIN_HUE_GAP, (one, other, a, b)
    statuses = families["status"]
    assert all(gap(a, b) >= MIN_HUE_GAP for i, a in enumerate(statuses) for b in statuses[i + 1 :])


def test_devices_are_muted_and_clusters_grow_lighter_without_hue():
    s = WALL_STYLE
    for kind in ("cameras", "sensors"):
        h, sat, value = hsv(s["devices"][kind]["color"])
        assert sat < GREY and value < 0.5
    ramp = [hsv(c) for _, c in s["cluster"]["ramp"]]
    assert all(sat < GREY for _, sat, _ in ramp)
    assert [v for _, _, v in ramp] == sorted(v for _, _, v in ramp)
    heat = hues(s["heat"]["gradient"].values())
    assert all(gap(a, hsv(s["alarm"])[0]) >= MIN_HUE_GAP for a in heat)
