"""The operations-centre kiosk (``/map/kiosk?layout=...``): the map wall with panels.

A full-screen dark 16:9 page (1920×1080 or 3840×2160; sizes scale with the
viewport): a header (the city's name, date and clock), KPI tiles, a ranking of
districts or streets (click to zoom), a live list of new cases and alarms (click
to fly there), trend charts (ECharts) and the map in the middle. Behaviour is
``assets/kiosk.js`` on top of ``assets/wall.js``; this module names the layouts
and the UI's words (all text the page shows, so the vendored CJK font covers it).

Each layout is a set of panels and KPI tiles and the map's default layers and window
(the hotline's adds the escalated tile and the 督办 panel: the newest supervision events,
deadline near, overdue, escalated, from the dashboard and then live); the URL
holds the rest (``?layout=district&region=990105`` plus the map's ``#view&filters``).

>>> sorted(LAYOUTS)
['alarms', 'district', 'hotline', 'overview']
>>> layout("nope")  # doctest: +ELLIPSIS
Traceback (most recent call last):
cityaware.geo.errors.InvalidInput: layout must be one of overview, district, ..., not 'nope'
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cityaware.geo.errors import InvalidInput
from cityaware.geo.store.casework import SUPERVISION_OPS
from cityaware.layers.page import STATIC_PREFIX, WallMap, WallView, render_wall_page, wall_config

PANELS = ("kpi", "ranking", "live", "trend", "mix")
KPIS = ("intake_today", "open", "overdue", "resolved_today", "on_time_rate", "satisfaction",
        "sensors_in_alarm", "devices_offline")  # fmt: skip
HOTLINE_KPIS = (*KPIS[:3], "escalated", *KPIS[3:7])


@dataclass(frozen=True)
class Layout:
    """One named screen: its title, panels, the map's default layers and window, which
    live events its list shows, whether it needs ``region``, and its KPI tiles."""

    name: str
    title: str
    panels: tuple[str, ...]
    layers: tuple[str, ...]
    window: str = "24h"
    live: tuple[str, ...] = ("incident", "sensor-alarm")
    needs_region: bool = False
    kpis: tuple[str, ...] = KPIS


LAYOUTS: dict[str, Layout] = {
    "overview": Layout("overview", "城市运行总览", PANELS, ("grids", "incidents", "sensors")),
    "district": Layout(
        "district",
        "区域运行",
        PANELS,
        ("grids", "incidents", "sensors", "cameras"),
        needs_region=True,
    ),  # fmt: skip
    "alarms": Layout(
        "alarms",
        "告警与设备",
        ("kpi", "ranking", "live"),
        ("grids", "sensors", "cameras"),
        live=("sensor-alarm",),
    ),  # fmt: skip
    "hotline": Layout(
        "hotline",
        "12345热线",
        (*PANELS, "supervision"),
        ("grids", "incidents", "heat"),
        live=("incident", "incident-status"),
        kpis=HOTLINE_KPIS,
    ),  # fmt: skip
}

LABELS: dict[str, str] = {
    "intake_today": "今日受理",
    "open": "未办结",
    "overdue": "超期",
    "escalated": "升级督办",
    "deadline_near": "临近时限",
    "supervision": "督办事件",
    "resolved_today": "今日办结",
    "on_time_rate": "按时办结率",
    "satisfaction": "满意率",
    "sensors_in_alarm": "告警传感器",
    "devices_offline": "离线设备",
    "ranking": "未办结排名",
    "district": "区县",
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "live": "实时事件",
    "incident": "新工单",
    "incident-status": "状态更新",
    "sensor-alarm": "传感器告警",
    "alarm": "告警",
    "trend": "今日每小时受理（对比上周同日）",
    "today": "今日",
    "last_week": "上周同日",
    "mix": "类别构成",
    "emergency": "应急模式",
    "emergency_off": "恢复常态",
    "timeline": "事件时间线",
    "cameras": "最近摄像头",
    "devices": "在线设备",
    "workers": "附近网格员",
    "neighbours": "相邻网格",
    "replay": "回放",
    "received": "已受理",
    "dispatched": "已派遣",
    "in_progress": "处置中",
    "resolved": "已办结",
    "closed": "已结案",
    "weekdays": "日一二三四五六",
}


def layout(name: str) -> Layout:
    """The layout called ``name`` (InvalidInput naming the choices otherwise)."""
    if name not in LAYOUTS:
        raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}, not {name!r}")
    return LAYOUTS[name]


class KioskMap(WallMap):
    """The wall's map with the kiosk's script, style, charts and font."""

    default_js = [
        *WallMap.default_js[:-1],
        ("echarts", f"{STATIC_PREFIX}/echarts/echarts.common.min.js"),
        WallMap.default_js[-1],
        ("kiosk_emergency", f"{STATIC_PREFIX}/kiosk_emergency.js"),
        ("kiosk_replay", f"{STATIC_PREFIX}/kiosk_replay.js"),
        ("kiosk_supervision", f"{STATIC_PREFIX}/kiosk_supervision.js"),
        ("kiosk", f"{STATIC_PREFIX}/kiosk.js"),
    ]
    default_css = [
        *WallMap.default_css,
        ("cjk_font", f"{STATIC_PREFIX}/noto_sans_sc/noto-sans-sc.css"),
        ("kiosk_css", f"{STATIC_PREFIX}/kiosk.css"),
    ]


def kiosk_config(
    screen: Layout,
    basemap_url: str = "",
    view: WallView | None = None,
    city: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The page's JSON: the wall's (with the layout's default layers and window) plus
    ``board`` for kiosk.js (layout, words, the city's name and time zone, the routes)."""
    defaults = {"layers": list(screen.layers), "window": screen.window}
    config = wall_config(True, basemap_url, view, defaults)
    config["zoomSnap"] = 0.25  # the city fills the middle
    config["extraEvents"] = ["wall-emergency-on", "wall-emergency-off"]
    config["board"] = {
        "layout": asdict(screen),
        "layouts": {name: item.title for name, item in LAYOUTS.items()},
        "labels": LABELS,
        "city": {"name": "", "timezone": "UTC", **(city or {})},
        "dashboard": "/v1/dashboard",
        "emergency": "/v1/dashboard/emergency",
        "replay": "/v1/dashboard/replay",
        "supervision": list(SUPERVISION_OPS),  # the ops of 督办 events in the stream's data
    }
    return config


def render_kiosk_page(
    screen: Layout,
    basemap_url: str = "",
    view: WallView | None = None,
    city: dict[str, Any] | None = None,
) -> str:
    """The whole HTML page of one kiosk layout.

    >>> html = render_kiosk_page(LAYOUTS["overview"], city={"name": "某市"})
    >>> "kiosk.js" in html and "某市" in html and "https://" not in html
    True
    """
    config = kiosk_config(screen, basemap_url, view, city)
    return render_wall_page(True, basemap_url, view, config=config, map_class=KioskMap)
