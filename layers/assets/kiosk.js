/* cityaware kiosk: the panels around the map wall (layers/kiosk.py names the layouts).
 *
 * CityWall.start calls CityKiosk.start(wall, board) when the page is a kiosk layout.
 * The kiosk reuses the wall's map, layers, popups and live event stream (wall.listeners);
 * its own state (region, emergency, replay) lives in the URL's query, the map's in the
 * hash. window.CityKiosk exposes what the browser tests read (figures, liveItems, ...).
 */
(function () {
  "use strict";

  var LIST_MAX = 40;          // rows of the live list
  var REFRESH_MS = 3000;      // figures are re-read at most this often (end to start) while
                              // events arrive: the rows come from the events themselves
  var PERIODIC_MS = 30000;    // and at least this often

  var Kiosk = {
    figures: null,
    refreshes: 0,
    liveItems: 0,
    emergency: null,

    /* ask for the first figures before the map's layers ask for their tiles (browsers
     * open a few connections per origin; the KPI tiles should not wait for the map) */
    prefetch: function (wall, board) {
      this.wall = wall; this.board = board; this.getJSON = wall.util.getJSON;
      this.query = new URLSearchParams(window.location.search);
      this.region = this.query.get("region") || "";
      this.first = this.getJSON(this.dashboardURL());
      this.first.catch(function () {});  // refresh reports a failure
      return this.first;
    },

    dashboardURL: function () {
      return this.board.dashboard + "?window=" + this.wall.state.window + "&region=" + encodeURIComponent(this.region);
    },

    start: function (wall, board) {
      var u = wall.util;
      if (this.wall !== wall) { this.prefetch(wall, board); }
      this.el = u.el; this.esc = u.esc;
      this.words = board.labels;
      document.body.classList.add("cw-board", "cw-layout-" + board.layout.name);
      this.build();
      wall.info = this.el("div", "cw-info");  // the wall's popups, on the kiosk too
      wall.info.id = "cw-info";
      wall.map.getContainer().appendChild(wall.info);
      this.alarmLayer = L.layerGroup().addTo(wall.map);
      var self = this;
      wall.listeners.push(function (type, ev) { self.onEvent(type, ev); });
      this.tick();
      setInterval(function () { self.tick(); }, 1000);
      setInterval(function () { self.later(); }, PERIODIC_MS);
      this.refresh().then(function () { self.fitRegion(); });
      this.loadEmergency();
      if (this.query.get("replay")) { CityKioskReplay.start(this, this.query.get("replay"), this.query.get("speed")); }
    },

    /* ---------- URL state (the query; the map's view and filters stay in the hash) */
    setQuery: function (name, value) {
      if (value === null || value === "") { this.query.delete(name); } else { this.query.set(name, value); }
      history.replaceState(null, "", "?" + this.query.toString() + window.location.hash);
    },

    /* ---------- layout */
    build: function () {
      var w = this.words, el = this.el, panels = this.board.layout.panels;
      this.header = el("header", "kb-header",
        '<div class="kb-city" id="kb-city"></div><div class="kb-title" id="kb-title"></div>' +
        '<button id="kb-emergency" class="kb-switch" type="button">' + this.esc(w.emergency) + "</button>" +
        '<div class="kb-clock"><span id="kb-date"></span><b id="kb-time"></b></div>');
      this.left = el("aside", "kb-left");
      this.right = el("aside", "kb-right");
      if (panels.indexOf("kpi") >= 0) { this.left.appendChild(el("section", "kb-kpis", "")).id = "kb-kpis"; }
      if (panels.indexOf("ranking") >= 0) { this.left.appendChild(this.panel("kb-ranking", w.ranking)); }
      if (panels.indexOf("supervision") >= 0) {  // 督办 (kiosk_supervision.js)
        var sv = this.left.appendChild(this.panel("kb-supervision", w.supervision)).querySelector(".kb-body");
        CityKioskSupervision.start(this, sv.appendChild(el("ol", "kb-list")));
        this.supervision = CityKioskSupervision;
      }
      if (panels.indexOf("live") >= 0) {
        var live = this.right.appendChild(this.panel("kb-live", w.live));
        live.querySelector(".kb-body").appendChild(el("ol", "kb-list")).id = "kb-list";
      }
      if (panels.indexOf("trend") >= 0) { this.right.appendChild(this.panel("kb-trend", w.trend)); }
      if (panels.indexOf("mix") >= 0) { this.right.appendChild(this.panel("kb-mix", w.mix)); }
      this.right.appendChild(this.panel("kb-incident", w.emergency)).classList.add("kb-hidden");
      [this.header, this.left, this.right].forEach(function (node) { document.body.appendChild(node); });
      var city = this.board.city.name, self = this;
      document.getElementById("kb-city").textContent = city;
      document.title = (city ? city + " · " : "") + this.board.layout.title;
      document.getElementById("kb-emergency").onclick = function () { self.toggleEmergency(); };
      this.charts = {};
      if (panels.indexOf("trend") >= 0) { this.charts.trend = echarts.init(document.querySelector("#kb-trend .kb-body")); }
      if (panels.indexOf("mix") >= 0) { this.charts.mix = echarts.init(document.querySelector("#kb-mix .kb-body")); }
      window.addEventListener("resize", function () {
        for (var name in self.charts) { self.charts[name].resize(); }
      });
    },

    panel: function (id, title) {
      var box = this.el("section", "kb-panel", "<h2>" + this.esc(title) + '</h2><div class="kb-body"></div>');
      box.id = id;
      return box;
    },

    tick: function () {
      var now = CityKioskReplay.now(this), tz = this.board.city.timezone;
      var date = new Intl.DateTimeFormat("zh-CN", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
      var time = new Intl.DateTimeFormat("zh-CN", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
      document.getElementById("kb-date").textContent = date.format(now);
      document.getElementById("kb-time").textContent = time.format(now);
    },

    /* ---------- figures */
    refresh: function () {
      var self = this, first = this.first;
      this.timer = null;
      this.first = null;
      this.inflight = true;  // until the answer is drawn: events meanwhile ask for one more
      return (first || this.getJSON(this.dashboardURL())).then(function (body) {
        self.figures = body;
        self.refreshes += 1;
        self.render(body);
        document.body.setAttribute("data-board", String(self.refreshes));
      }).catch(function (err) { self.wall.notice("dashboard: " + err.message); }).then(function () {
        self.inflight = false;
        self.refreshed = Date.now();
        if (self.stale) { self.stale = false; self.later(); }
      });
    },

    /* re-read the figures soon: at once when the last read ended REFRESH_MS ago, else then
     * (a burst of events costs one read every REFRESH_MS, however long a read takes) */
    later: function () {
      var self = this;
      if (this.timer) { return; }
      if (this.inflight) { this.stale = true; return; }
      var wait = Math.max(0, (this.refreshed || 0) + REFRESH_MS - Date.now());
      this.timer = setTimeout(function () { self.refresh(); }, wait);
    },

    render: function (body) {
      var title = this.board.layout.title + (body.region.level === "city" ? "" : " · " + body.region.name);
      document.getElementById("kb-title").textContent = title;
      this.renderKpis(body.kpi);
      this.renderRanking(body.ranking);
      if (!this.liveItems) { this.renderNewest(body.newest); }
      if (this.supervision) { this.supervision.fromFigures(body.newest.supervision); }
      this.renderCharts(body);
      this.renderAlarms(body.newest.alarms);
    },

    renderKpis: function (kpi) {
      var box = document.getElementById("kb-kpis");
      if (!box) { return; }
      var names = this.board.layout.kpis, self = this;
      box.innerHTML = names.map(function (name) {
        var v = kpi[name], shown = v === null ? "–" : (name.slice(-4) === "rate" || name === "satisfaction" ?
          (v * 100).toFixed(1) + "%" : String(v));
        return '<div class="kb-kpi kb-' + name + '" data-kpi="' + name + '" data-value="' + (v === null ? "" : v) +
          '"><b>' + shown + "</b><span>" + self.esc(self.words[name]) + "</span></div>";
      }).join("");
    },

    renderRanking: function (ranking) {
      var box = document.querySelector("#kb-ranking .kb-body"), self = this;
      if (!box) { return; }
      var top = Math.max(1, ranking.units.length ? ranking.units[0].open : 1);
      box.innerHTML = '<table class="kb-rank"><tr><th>' + this.esc(this.words[ranking.level] || "") + "</th><th>" +
        this.esc(this.words.open) + "</th><th>" + this.esc(this.words.overdue) + "</th></tr>" +
        ranking.units.map(function (u) {
          return '<tr data-code="' + self.esc(u.code) + '"><td>' + self.esc(u.name) +
            '<i style="width:' + (100 * u.open / top).toFixed(0) + '%"></i></td><td>' + u.open +
            "</td><td>" + u.overdue + "</td></tr>";
        }).join("") + "</table>";
      box.querySelectorAll("tr[data-code]").forEach(function (row, i) {
        row.onclick = function () { self.zoomTo(ranking.units[i]); };
      });
    },

    zoomTo: function (unit) {
      var b = unit.bbox;
      this.wall.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { animate: false });
      if (unit.code.length > 12) { this.wall.showGrid(unit.code); }
    },

    /* whether the URL (or the city profile) named the map's view when the page opened */
    hasView: function () { return !!this.wall.state.centre && this.wall.state.zoom !== null; },

    fitRegion: function () {
      var bbox = this.figures && this.figures.region.bbox;
      if (bbox && !this.hasView()) {
        this.wall.map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { animate: false });
      }
    },

    renderNewest: function (newest) {
      var self = this, rows = newest.cases.map(function (c) {
        return { type: "incident", ev: c, at: Date.parse(c.reported_at) };
      }).concat(newest.alarms.map(function (a) {
        return { type: "sensor-alarm", ev: { kind: "alarms", id: a.sensor_id, lon: a.lon, lat: a.lat, category: a.category }, at: a.opened_at };
      })).filter(function (r) { return self.board.layout.live.indexOf(r.type) >= 0; });
      rows.sort(function (a, b) { return a.at - b.at; });
      rows.forEach(function (r) { self.addRow(r.type, r.ev, r.at); });
    },

    addRow: function (type, ev, at) {
      var list = document.getElementById("kb-list");
      if (!list) { return; }
      var w = this.words, when = new Intl.DateTimeFormat("zh-CN", { timeZone: this.board.city.timezone,
        hour: "2-digit", minute: "2-digit", hour12: false }).format(new Date(at || Date.now()));
      var li = this.el("li", "kb-row kb-" + type, "<time>" + when + "</time><b>" + this.esc(w[type] || type) +
        "</b> " + this.esc(ev.title || ev.category || "") + " <small>" + this.esc(w[ev.status] || ev.status || "") +
        "</small>");
      li.setAttribute("data-id", ev.id);
      var self = this;
      li.onclick = function () { self.flyTo(ev); };
      list.insertBefore(li, list.firstChild);
      while (list.children.length > LIST_MAX) { list.removeChild(list.lastChild); }
    },

    flyTo: function (ev) {
      this.wall.map.flyTo([ev.lat, ev.lon], Math.max(this.wall.map.getZoom(), 16), { duration: 0.6 });
      if (ev.kind === "incidents") { this.wall.showIncident(ev.id); }
    },

    /* an event shown on the map is listed too when the screen's filters let it through */
    onEvent: function (type, ev) {
      if (type.indexOf("wall-emergency") === 0) { return this.loadEmergency(); }
      this.later();
      var state = this.wall.state;
      if (state.category && ev.category && ev.category !== state.category) { return; }
      if (this.region && ev.grid_code && !this.inRegion(ev)) { return; }
      if (this.supervision && ev.kind === "incidents") { this.supervision.onEvent(ev); }
      if (this.board.layout.live.indexOf(type) < 0) { return; }
      this.liveItems += 1;
      this.addRow(type, ev, ev.updated_at);
    },

    inRegion: function (ev) {
      var units = (this.figures && this.figures.ranking.units) || [];
      return ev.grid_code.indexOf(this.region) === 0 || units.some(function (u) { return ev.grid_code.indexOf(u.code) === 0; });
    },

    renderAlarms: function (alarms) {
      var layer = this.alarmLayer, wall = this.wall;
      layer.clearLayers();
      alarms.forEach(function (a) {
        if (a.lat === null || a.lon === null) { return; }
        layer.addLayer(L.circleMarker([a.lat, a.lon], {
          pane: "cw-live", renderer: wall.liveRenderer, radius: 8, color: wall.style.alarm, weight: 3,
          fillColor: wall.style.alarm, fillOpacity: 0.5, className: "cw-alarm"
        }));
      });
    },

    /* charts draw text on a canvas, which does not redraw when a font chunk arrives later:
     * load the chunks of every word first (a kiosk may have no CJK font of its own) */
    renderCharts: function (body) {
      var words = [this.words.today, this.words.last_week].concat(body.category_mix.map(function (c) { return c.name; }));
      var self = this, fonts = document.fonts;
      var loaded = fonts && fonts.load ? fonts.load("16px 'Noto Sans SC'", words.join("")) : Promise.resolve();
      return loaded.then(function () { self.drawCharts(body); }, function () { self.drawCharts(body); });
    },

    drawCharts: function (body) {
      var w = this.words, s = this.wall.style, axis = { color: "#9fb0c8", fontFamily: "Noto Sans SC, sans-serif" };
      var text = { color: "#d8e1ee", fontFamily: "Noto Sans SC, sans-serif" };
      if (this.charts.trend) {
        var hours = []; for (var h = 0; h < 24; h++) { hours.push(h + ""); }
        var shown = body.intake_by_hour.today.slice(0, body.intake_by_hour.hours_elapsed);
        this.charts.trend.setOption({
          animation: false, textStyle: text, grid: { left: 40, right: 12, top: 28, bottom: 24 },
          legend: { textStyle: text, top: 0, data: [w.today, w.last_week] },
          xAxis: { type: "category", data: hours, axisLabel: axis },
          yAxis: { type: "value", axisLabel: axis, splitLine: { lineStyle: { color: "#1f2b3d" } } },
          series: [
            { name: w.today, type: "line", data: shown, color: "#ffffff", symbol: "none", lineStyle: { width: 3 } },
            { name: w.last_week, type: "line", data: body.intake_by_hour.last_week, color: s.neutral, symbol: "none",
              lineStyle: { type: "dashed" } }
          ]
        });
      }
      if (this.charts.mix) {
        var top = body.category_mix.slice(0, 8).reverse();
        this.charts.mix.setOption({
          animation: false, textStyle: text, grid: { left: 96, right: 40, top: 4, bottom: 4 },
          xAxis: { type: "value", show: false },
          yAxis: { type: "category", data: top.map(function (c) { return c.name; }), axisLabel: axis },
          series: [{ type: "bar", data: top.map(function (c) { return c.count; }), color: s.neutral,
            label: { show: true, position: "right", color: "#d8e1ee" } }]
        });
      }
    },

    /* ---------- emergency mode (kiosk_emergency.js draws it) */
    loadEmergency: function () {
      var self = this;
      return this.getJSON(this.board.emergency).then(function (state) { CityKioskEmergency.show(self, state); })
        .catch(function (err) { self.wall.notice("emergency: " + err.message); });
    },

    toggleEmergency: function () {
      var on = !!(this.emergency && this.emergency.active), self = this;
      var target = on ? null : (this.wall.info && this.wall.info.querySelector("[data-incident]"));
      if (!on && !target) { return this.wall.notice("select an incident first"); }
      var key = sessionStorage.getItem("cwKey") || window.prompt("API key");
      if (!key) { return; }
      sessionStorage.setItem("cwKey", key);
      var init = { method: on ? "DELETE" : "POST", headers: { "X-API-Key": key, "Content-Type": "application/json" } };
      if (!on) { init.body = JSON.stringify({ incident: target.getAttribute("data-incident") }); }
      return fetch(this.board.emergency, init).then(function () { return self.loadEmergency(); });
    }
  };

  window.CityKiosk = Kiosk;
})();
