/* cityaware map wall: layers from our vector tiles, live events, search, state in the URL.
 *
 * CityWall.start(map, config) is called by the page folium renders (layers/page.py).
 * Everything is fetched from the page's own origin. window.CityWall exposes the
 * state the browser tests read (featureCount, liveCount, counts, ready).
 */
(function () {
  "use strict";

  // Leaflet.VectorGrid 1.3 calls L.DomEvent.fakeStop, which Leaflet 1.8+ removed.
  if (!L.DomEvent.fakeStop) {
    L.DomEvent.fakeStop = function (e) { e._stopped = true; };
  }

  var LIVE_MAX = 300;          // live markers kept on the map (oldest dropped)
  var FLASH_MS = 6000;
  var COUNTS_REFRESH_MS = 60000; // closed cases leave the choropleth within a minute
  var FIRST_WAIT_MS = 1500;      // a kiosk's tiles wait at most this long for its first figures

  /* Leaflet.heat draws with getImageData, which throws on a canvas of no size (a map laid
   * out at none): nothing to draw then. */
  var SizedHeat = L.HeatLayer.extend({
    _redraw: function () {
      var size = this._map.getSize();
      if (size.x && size.y) { L.HeatLayer.prototype._redraw.call(this); } else { this._frame = null; }
    }
  });

  /* A VectorGrid that counts the features of its loaded tiles. */
  var CountingGrid = L.VectorGrid.Protobuf.extend({
    initialize: function (url, options) {
      L.VectorGrid.Protobuf.prototype.initialize.call(this, url, options);
      this._featureCounts = {};
      this.on("tileunload", function (e) { delete this._featureCounts[this._tileCoordsToKey(e.coords)]; });
    },
    _getVectorTilePromise: function (coords) {
      var self = this, key = this._tileCoordsToKey(coords);
      return L.VectorGrid.Protobuf.prototype._getVectorTilePromise.call(this, coords).then(function (tile) {
        var n = 0;
        for (var name in tile.layers) { n += tile.layers[name].features.length; }
        if (self._tiles[key]) { self._featureCounts[key] = n; }
        return tile;
      });
    },
    featureCount: function () {
      var n = 0;
      for (var k in this._featureCounts) { n += this._featureCounts[k]; }
      return n;
    },
    /* Leaflet 1.9.4's redraw takes the map's zoom unrounded as the tile zoom: at the kiosk's
     * fractional zoom (zoomSnap 0.25) a restyle or setUrl asked for tiles at z=9.75 (400s).
     * The same tiles again, at the whole zoom a view change uses. */
    redraw: function () {
      if (this._map) { this._removeAllTiles(); this._resetView(); }
      return this;
    }
  });

  function el(tag, cls, html) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (html !== undefined) { node.innerHTML = html; }
    return node;
  }

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error(body.description || ("HTTP " + r.status)); }
        return body;
      });
    });
  }

  var Wall = {
    ready: false,
    counts: {},
    layers: {},
    live: null,
    lastEventId: "",
    seenEvents: {},
    seenOrder: [],
    eventsReceived: 0,
    highlighted: null,
    listeners: [],  // functions (type, event) called for each new live event (the kiosk's)
    util: { el: el, esc: esc, getJSON: getJSON },

    start: function (map, config) {
      this.map = map;
      this.config = config;
      this.style = config.style;
      this.state = this.readHash();
      if (config.zoomSnap) { map.options.zoomSnap = config.zoomSnap; }  // the kiosk fits tightly
      map.getContainer().style.background = this.style.background;
      if (config.kiosk) { document.body.classList.add("cw-kiosk"); }
      // the kiosk's figures first: the map's tiles wait for them (a few connections per
      // origin and one server: a screenful of tiles would queue the KPI tiles for seconds)
      var first = config.board && window.CityKiosk ? window.CityKiosk.prefetch(this, config.board) : null;
      this.buildBase();
      this.buildLayers();
      if (!config.kiosk) { this.buildControls(); }
      this.buildLegend();
      var counted = this.loadCounts();  // first in the browser's queue, before the tiles
      this.connect();  // the stream too: its events only arrive once start has returned
      this.applyState(first);
      map.on("moveend", this.viewChanged, this);
      map.on("overlayadd overlayremove", this.writeHash, this);
      var self = this;
      counted.then(function () {
        self.ready = true;
        document.body.setAttribute("data-ready", "1");
      });
      setInterval(function () { self.loadCounts(true); }, COUNTS_REFRESH_MS);
      if (config.board && window.CityKiosk) { window.CityKiosk.start(this, config.board); }
    },

    /* ---------- URL state: #z/lat/lon&layers=a,b&window=24h&status=open&category= */
    readHash: function () {
      var d = this.config.defaults, s = {
        zoom: this.config.zoom, centre: this.config.centre ? this.config.centre.slice() : null,
        layers: d.layers.slice(), window: d.window, status: d.status, category: d.category
      };
      var hash = window.location.hash.replace(/^#/, "");
      if (!hash) { return s; }
      var parts = hash.split("&");
      var view = parts[0].split("/");
      if (view.length === 3 && view.every(function (v) { return isFinite(parseFloat(v)); })) {
        s.zoom = parseFloat(view[0]); s.centre = [parseFloat(view[1]), parseFloat(view[2])];
      }
      parts.slice(1).forEach(function (p) {
        var kv = p.split("="), k = kv[0], v = decodeURIComponent(kv[1] || "");
        if (k === "layers") { s.layers = v ? v.split(",") : []; }
        if (k === "window" && this.config.windows.indexOf(v) >= 0) { s.window = v; }
        if (k === "status" && (v === "open" || v === "all")) { s.status = v; }
        if (k === "category") { s.category = v; }
      }, this);
      return s;
    },

    /* the view as the server takes it (bbox rounded outwards to 5 decimals, whole zoom), or
     * null while the map has no size (laid out at none yet, or hidden): every request built
     * from the view goes through here */
    view: function () {
      var size = this.map.getSize(), b = this.map.getBounds();
      var e5 = [Math.floor(b.getWest() * 1e5), Math.floor(b.getSouth() * 1e5),
        Math.ceil(b.getEast() * 1e5), Math.ceil(b.getNorth() * 1e5)];
      if (!size.x || !size.y || !(e5[0] < e5[2] && e5[1] < e5[3])) { return null; }
      var bbox = e5.map(function (v) { return (v / 1e5).toFixed(5); });
      return { bbox: bbox, zoom: Math.floor(this.map.getZoom()) };
    },

    viewChanged: function () {
      if (!this.view()) { return; }  // nothing to show, nothing worth keeping in the URL
      this.writeHash();
      this.refreshHeat();
    },

    writeHash: function () {
      var c = this.map.getCenter(), on = [];
      for (var name in this.layers) { if (this.map.hasLayer(this.layers[name])) { on.push(name); } }
      if (!this.layersAdded) { on = this.state.layers.slice(); }  // a kiosk's, not added yet
      this.state.layers = on;
      var hash = "#" + this.map.getZoom() + "/" + c.lat.toFixed(5) + "/" + c.lng.toFixed(5) +
        "&layers=" + on.join(",") + "&window=" + this.state.window + "&status=" + this.state.status +
        "&category=" + encodeURIComponent(this.state.category);
      if (window.location.hash !== hash) { history.replaceState(null, "", hash); }
    },

    /* the view now; the layers (their tiles) once ``after`` settles, at most FIRST_WAIT_MS */
    applyState: function (after) {
      var self = this;
      if (this.state.centre && this.state.zoom !== null) {
        this.map.setView(this.state.centre, this.state.zoom);
      } else {  // no view in the URL or the city profile: fit the boundaries' extent
        this.map.fitBounds(this.config.bounds);
      }
      function add() {
        self.base.addTo(self.map);
        for (var name in self.layers) {
          if (self.state.layers.indexOf(name) >= 0) { self.layers[name].addTo(self.map); }
        }
        self.layersAdded = true;
        self.writeHash();
      }
      if (!after) { return add(); }
      var wait = new Promise(function (done) { setTimeout(done, FIRST_WAIT_MS); });
      Promise.race([after.catch(function () {}), wait]).then(add);
    },

    /* ---------- layers */
    tileUrl: function (layer, filtered) {
      var url = this.config.tiles.replace("{layer}", layer);
      if (filtered) {
        url += "?window=" + this.state.window + "&status=" + this.state.status +
          "&category=" + encodeURIComponent(this.state.category);
      }
      return url;
    },

    grid: function (layer, styles, options) {
      return new CountingGrid(this.tileUrl(layer, options && options.filtered), L.extend({
        vectorTileLayerStyles: styles, maxNativeZoom: 18, interactive: false,
        rendererFactory: L.canvas.tile
      }, options || {}));
    },

    buildBase: function () {
      var st = this.style.boundaries;
      if (this.config.basemapUrl) {
        L.tileLayer(this.config.basemapUrl, { maxZoom: 19 }).addTo(this.map);
      }
      this.base = this.grid("boundaries", {
        districts: st.districts, streets: st.streets, communities: st.communities
      }, { interactive: false, pane: "overlayPane" });  // added by applyState
    },

    buildLayers: function () {
      var self = this, style = this.style;
      this.map.createPane("cw-live").style.zIndex = 650;
      this.layers.grids = this.grid("grids", {
        grids: function (p) { return self.gridStyle(p.code); }
      }, { getFeatureId: function (f) { return f.properties.code; } });
      this.layers.incidents = this.grid("incidents", {
        incidents: function (p) { return self.incidentStyle(p); }
      }, { filtered: true });
      this.layers.cameras = this.grid("cameras", {
        cameras: function (p) { return self.deviceStyle("cameras", p); }
      });
      this.layers.sensors = this.grid("sensors", {
        sensors: function (p) { return self.deviceStyle("sensors", p); }
      });
      // stacked canvases hide each other's features from the pointer: the server hit-tests
      this.map.on("click", this.clickMap, this);
      var heat = this.style.heat;
      this.layers.heat = new SizedHeat([], {
        radius: heat.radius, blur: heat.blur, minOpacity: heat.minOpacity, gradient: heat.gradient, maxZoom: 14
      });
      this.layers.heat.on("add", function () { self.refreshHeat(); });
      this.liveRenderer = L.svg({ pane: "cw-live" });
      this.live = L.layerGroup().addTo(this.map);
      this.layers.live = this.live;
      this.liveMarkers = [];
    },

    gridStyle: function (code) {
      var n = (this.counts[code] && this.counts[code].total) || 0, fill = this.style.choropleth[0][1];
      for (var i = 0; i < this.style.choropleth.length; i++) {
        if (n <= this.style.choropleth[i][0]) { fill = this.style.choropleth[i][1]; break; }
      }
      var s = L.extend({ fill: true, fillColor: fill, fillOpacity: n ? 0.55 : 0.15 }, this.style.grid);
      return code === this.highlighted ? L.extend(s, this.style.gridHighlight) : s;
    },

    /* a cluster: a hueless grey, lighter and larger with its count; a thin ring of the
     * alarm colour when it holds a sensor in alarm (never a red disc) */
    clusterStyle: function (p, alarm) {
      var ramp = this.style.cluster.ramp, fill = ramp[ramp.length - 1][1];
      for (var i = 0; i < ramp.length; i++) { if (p.count <= ramp[i][0]) { fill = ramp[i][1]; break; } }
      return {
        radius: Math.min(4 + Math.sqrt(p.count) * 1.2, 26), fill: true, fillColor: fill, fillOpacity: 0.7,
        color: alarm ? this.style.alarm : "#0b1220", weight: alarm ? 2 : 1, opacity: 0.9
      };
    },

    incidentStyle: function (p) {
      if (p.cluster) { return this.clusterStyle(p, false); }
      return {
        radius: 5, fill: true, fillOpacity: 0.95, fillColor: this.style.status[p.status] || "#ccc",
        color: "#0b1220", weight: 1, opacity: 1
      };
    },

    /* devices are muted unless in alarm or offline */
    deviceStyle: function (kind, p) {
      var d = this.style.devices[kind], alarm = kind === "sensors" && (p.cluster ? p.alarm > 0 : p.alarm);
      if (p.cluster) { return this.clusterStyle(p, alarm); }
      var offline = p.online === false, colour = alarm ? d.alarm : (offline ? d.offline : d.color);
      return {
        radius: alarm ? 6 : (offline ? 4 : 2.5), fill: true, fillColor: colour,
        fillOpacity: alarm || offline ? 0.95 : 0.45, color: alarm ? "#ffffff" : colour,
        weight: alarm ? 2 : 0.5, opacity: alarm || offline ? 0.9 : 0.4
      };
    },

    filterQuery: function () {
      return "window=" + this.state.window + "&status=" + this.state.status +
        "&category=" + encodeURIComponent(this.state.category);
    },

    /* Counts per grid; ``onlyChanged`` restyles just the grids whose count moved (the
     * periodic refresh that also catches status changes) instead of redrawing every tile. */
    loadCounts: function (onlyChanged) {
      var self = this;
      return getJSON(this.config.api + "/grid-counts?" + this.filterQuery()).then(function (body) {
        var old = self.counts;
        self.counts = body.counts;
        if (onlyChanged) {
          var codes = Object.keys(old).concat(Object.keys(body.counts));
          codes.forEach(function (code) {
            var was = (old[code] && old[code].total) || 0, now = (body.counts[code] && body.counts[code].total) || 0;
            if (was !== now) { self.layers.grids.setFeatureStyle(code, self.gridStyle(code)); }
          });
        } else if (Object.keys(self.layers.grids._featureCounts).length) {
          self.layers.grids.redraw();  // restyle grid tiles already drawn
        }
      }).catch(function (err) { self.notice("counts: " + err.message); });
    },

    refreshHeat: function () {
      if (!this.map.hasLayer(this.layers.heat)) { return; }
      var view = this.view(), self = this;
      if (!view) { return; }
      var url = this.config.api + "/heat?" + this.filterQuery() + "&zoom=" + view.zoom + "&bbox=" + view.bbox.join(",");
      getJSON(url).then(function (body) {
        var max = body.points.reduce(function (m, p) { return Math.max(m, p[2]); }, 1);
        self.layers.heat.setOptions({ max: max });
        self.layers.heat.setLatLngs(body.points);
      })
        .catch(function (err) { self.notice("heat: " + err.message); });
    },

    setFilters: function (changes) {
      L.extend(this.state, changes);
      this.layers.incidents.setUrl(this.tileUrl("incidents", true));
      this.loadCounts();
      this.refreshHeat();
      this.writeHash();
    },

    /* ---------- panels */
    buildControls: function () {
      var self = this, panel = L.control({ position: "topleft" });
      panel.onAdd = function () {
        var box = el("div", "cw-panel");
        box.innerHTML =
          '<form class="cw-search"><input id="cw-search" name="q" autocomplete="off" ' +
          'placeholder="' + esc(self.config.placeholder) + '"><button type="submit">Go</button></form>' +
          '<label>Window <select id="cw-window"></select></label>' +
          '<label>Status <select id="cw-status"><option value="open">open</option>' +
          '<option value="all">all</option></select></label>' +
          '<label>Category <input id="cw-category" size="10"></label>' +
          '<div id="cw-notice" class="cw-notice"></div>';
        var win = box.querySelector("#cw-window");
        self.config.windows.forEach(function (w) { win.appendChild(new Option(w, w)); });
        win.value = self.state.window;
        box.querySelector("#cw-status").value = self.state.status;
        box.querySelector("#cw-category").value = self.state.category;
        win.onchange = function () { self.setFilters({ window: win.value }); };
        box.querySelector("#cw-status").onchange = function (e) { self.setFilters({ status: e.target.value }); };
        box.querySelector("#cw-category").onchange = function (e) { self.setFilters({ category: e.target.value.trim() }); };
        box.querySelector("form").onsubmit = function (e) {
          e.preventDefault(); self.search(box.querySelector("#cw-search").value);
        };
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      };
      panel.addTo(this.map);
      L.control.layers(null, {
        "Grids (open incidents)": this.layers.grids, "Incidents": this.layers.incidents,
        "Heatmap": this.layers.heat, "Cameras": this.layers.cameras, "Sensors": this.layers.sensors,
        "Live": this.live
      }, { collapsed: false, position: "topright" }).addTo(this.map);
      this.info = el("div", "cw-info");
      this.info.id = "cw-info";
      this.map.getContainer().appendChild(this.info);
      L.DomEvent.disableClickPropagation(this.info);
    },

    buildLegend: function () {
      var self = this, legend = L.control({ position: "bottomright" });
      legend.onAdd = function () {
        var s = self.style, html = "<b>Open incidents per grid</b><br>", lower = 0;
        s.choropleth.forEach(function (c) {
          var label = c[0] > 1e8 ? (lower + "+") : (lower === c[0] ? String(c[0]) : lower + "–" + c[0]);
          html += '<i style="background:' + c[1] + '"></i>' + label + "<br>";
          lower = c[0] + 1;
        });
        html += "<b>Incident status</b><br>";
        for (var k in s.status) { html += '<i class="cw-dot" style="background:' + s.status[k] + '"></i>' + k + "<br>"; }
        html += '<b>Devices</b><br><i class="cw-dot" style="background:' + s.devices.cameras.color + '"></i>camera<br>' +
          '<i class="cw-dot" style="background:' + s.devices.sensors.color + '"></i>sensor<br>' +
          '<i class="cw-dot" style="background:' + s.alarm + '"></i>sensor alarm<br>' +
          '<i class="cw-dot" style="background:' + s.offline + '"></i>device offline<br>' +
          '<i class="cw-dot cw-ring" style="background:' + s.cluster.ramp[1][1] + '"></i>cluster (count)';
        var box = el("div", "cw-legend", html);
        box.id = "cw-legend";
        return box;
      };
      legend.addTo(this.map);
    },

    notice: function (text) {
      var n = document.getElementById("cw-notice");
      if (n) { n.textContent = text; }
    },

    showInfo: function (html) {
      if (!this.info) { return; }
      this.info.innerHTML = '<a class="cw-close" href="#" title="close">×</a>' + html;
      this.info.style.display = "block";
      var self = this;
      this.info.querySelector(".cw-close").onclick = function (e) {
        e.preventDefault(); self.info.style.display = "none";
      };
    },

    highlight: function (code) {
      var previous = this.highlighted;
      this.highlighted = code;
      if (previous) { this.layers.grids.setFeatureStyle(previous, this.gridStyle(previous)); }
      if (code) { this.layers.grids.setFeatureStyle(code, this.gridStyle(code)); }
    },

    showGrid: function (code) {
      var self = this;
      this.highlight(code);
      return getJSON(this.config.api + "/grids/" + encodeURIComponent(code) + "?" + this.filterQuery())
        .then(function (g) {
          var a = g.attributes || {}, rows = "";
          var chain = g.chain.map(function (u) { return esc(u.name) + " <small>" + esc(u.code) + "</small>"; });
          for (var cat in g.counts) { if (cat !== "total") { rows += "<tr><td>" + esc(cat) + "</td><td>" + g.counts[cat] + "</td></tr>"; } }
          self.showInfo('<h3 data-grid="' + esc(g.code) + '">Grid ' + esc(g.name) + "</h3>" +
            '<div class="cw-chain">' + chain.join(" › ") + "</div>" +
            "<p>Worker: <b>" + esc(a.worker) + "</b> " + esc(a.phone) + "<br>Office: " + esc(a.office) + "</p>" +
            "<p>Open incidents (" + esc(self.state.window) + "): <b>" + (g.counts.total || 0) + "</b></p>" +
            '<table class="cw-counts">' + rows + "</table>");
        }).catch(function (err) { self.notice(err.message); });
    },

    clickMap: function (e) {
      var self = this, shown = ["incidents", "sensors", "cameras"].filter(function (k) {
        return self.map.hasLayer(self.layers[k]);
      });
      var url = this.config.api + "/at?lon=" + e.latlng.lng.toFixed(6) + "&lat=" + e.latlng.lat.toFixed(6) +
        "&zoom=" + Math.floor(this.map.getZoom()) + "&layers=" + shown.join(",") + "&" + this.filterQuery();
      return getJSON(url).then(function (hit) {
        if (hit.kind === "incidents") { return self.showIncident(hit.feature.id); }
        if (hit.kind === "grids") {
          if (hit.code) { return self.showGrid(hit.code); }
          if (hit.unit) { self.showUnit(hit); }
          return self.notice(hit.unit ? hit.level + " " + (hit.unit.name || hit.unit.code) : "outside every unit");
        }
        var rows = "", p = hit.feature;
        for (var k in p) { rows += "<tr><td>" + esc(k) + "</td><td>" + esc(p[k]) + "</td></tr>"; }
        self.showInfo("<h3>" + esc(hit.kind.slice(0, -1)) + " " + esc(p.id) + "</h3><table>" + rows + "</table>");
      }).catch(function (err) { self.notice(err.message); });
    },

    showIncident: function (id) {
      var self = this;
      return getJSON(this.config.api + "/incidents/" + encodeURIComponent(id)).then(function (d) {
        var f = d.incident, hist = "", cams = "";
        (d.history || []).forEach(function (h) {
          hist += "<li>" + esc(new Date(h.at).toISOString().slice(0, 16).replace("T", " ")) + " " +
            esc(h.from_status || "·") + " → " + esc(h.to_status) + "</li>";
        });
        (d.cameras || []).forEach(function (c) { cams += "<li>" + esc(c.id) + " " + Math.round(c.distance_m) + " m</li>"; });
        self.showInfo('<h3 data-incident="' + esc(f.id) + '">' + esc(f.title || f.category) + "</h3>" +
          "<p>" + esc(f.category) + " · <b>" + esc(f.status) + "</b> · " + esc(f.priority) + "<br>" +
          esc(f.address) + "<br>Grid " + esc(f.grid_code) + " · " + esc(f.office) + "</p>" +
          "<b>Status history</b><ul>" + hist + "</ul><b>Nearest cameras</b><ul>" + cams + "</ul>");
        if (f.grid_code) { self.highlight(f.grid_code); }
      }).catch(function (err) { self.notice(err.message); });
    },

    search: function (text) {
      var self = this;
      return getJSON(this.config.api + "/locate?q=" + encodeURIComponent(text)).then(function (r) {
        self.map.flyTo([r.lat, r.lon], Math.max(self.map.getZoom(), 15), { duration: 0.8 });
        if (r.grid_code) { self.showGrid(r.grid_code); } else if (r.unit) { self.showUnit(r); }
        self.notice(r.grid_code ? "grid " + r.grid_code :
          (r.unit ? r.level + " " + (r.unit.name || r.unit.code) : "outside every unit"));
      }).catch(function (err) { self.notice(err.message); });
    },

    /* a search answered at a unit coarser than a grid: the unit, its level, its chain and
       whether a grid could not be trusted (an address certain only down to this unit) */
    showUnit: function (r) {
      var u = r.unit, flag = r.grid_trusted === false ?
        '<p class="cw-untrusted" data-grid-trusted="false">Grid not trusted: ' + esc(r.grid_reason) + "</p>" :
        "<p>No grid here: the city is outlined down to this " + esc(r.level) + ".</p>";
      this.showInfo('<h3 data-unit="' + esc(u.code) + '" data-level="' + esc(r.level) + '">' +
        esc(u.type_name || r.level) + " " + esc(u.name || u.code) + " <small>" + esc(u.code) + "</small></h3>" +
        '<div class="cw-chain">' + r.chain.map(esc).join(" › ") + "</div>" + flag);
    },

    /* ---------- live events (server-sent events, resumed with Last-Event-ID) */
    connect: function () {
      var self = this, url = this.config.events;
      // ids are change seqs; one of an older server (not a number) would be refused for good
      if (/^\d+$/.test(this.lastEventId)) { url += "?last_event_id=" + encodeURIComponent(this.lastEventId); }
      var source = new EventSource(url);
      this.source = source;
      ["incident", "incident-status", "sensor-alarm"].concat(this.config.extraEvents || []).forEach(function (type) {
        source.addEventListener(type, function (e) { self.onEvent(type, e); });
      });
      ["hello", "sync"].forEach(function (type) {
        source.addEventListener(type, function (e) { if (e.lastEventId) { self.lastEventId = e.lastEventId; } });
      });
      source.onopen = function () { document.body.setAttribute("data-live", "1"); };
      source.onerror = function () {
        document.body.setAttribute("data-live", "0");
        // the browser retries by itself unless the server answered with an error: then we do
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(function () { if (self.source === source) { self.connect(); } }, 2000);
        }
      };
    },

    onEvent: function (type, e) {
      if (e.lastEventId) { this.lastEventId = e.lastEventId; }
      // a resumed stream repeats a few seconds of events: show each once
      if (this.seenEvents[e.lastEventId]) { return; }
      this.seenEvents[e.lastEventId] = true;
      this.seenOrder.push(e.lastEventId);
      if (this.seenOrder.length > 2000) { delete this.seenEvents[this.seenOrder.shift()]; }
      var ev = JSON.parse(e.data);
      this.eventsReceived += 1;
      this.listeners.forEach(function (fn) { fn(type, ev); });
      if (typeof ev.lat !== "number") { return; }  // not a place (the wall's mode switches)
      if (type === "incident") {
        var c = this.counts[ev.grid_code] || (this.counts[ev.grid_code] = { total: 0 });
        if (ev.open && (!this.state.category || this.state.category === ev.category)) {
          c.total += 1;
          c[ev.category] = (c[ev.category] || 0) + 1;
        }
        if (ev.grid_code) { this.layers.grids.setFeatureStyle(ev.grid_code, this.gridStyle(ev.grid_code)); }
      }
      var colour = type === "sensor-alarm" ? this.style.live.alarm :
        (type === "incident" ? this.style.live.incident : (this.style.status[ev.status] || "#fff"));
      this.flash(ev, colour, type);
    },

    flash: function (ev, colour, type) {
      var marker = L.circleMarker([ev.lat, ev.lon], {
        pane: "cw-live", renderer: this.liveRenderer, radius: 9, color: colour, weight: 3, fillColor: colour, fillOpacity: 0.6,
        className: type === "sensor-alarm" ? "cw-flash cw-alarm" : "cw-flash"  // alarms keep pulsing
      });
      marker.feature = ev;
      marker.bindTooltip(esc(type + " " + ev.id + (ev.category ? " · " + ev.category : "")));
      marker.on("click", function () { if (ev.kind === "incidents") { this.showIncident(ev.id); } }, this);
      this.live.addLayer(marker);
      this.liveMarkers.push(marker);
      var path = marker.getElement && marker.getElement();
      if (path) {
        path.setAttribute("data-live-id", ev.id);
        setTimeout(function () { path.classList.remove("cw-flash"); }, FLASH_MS);
      }
      while (this.liveMarkers.length > LIVE_MAX) { this.live.removeLayer(this.liveMarkers.shift()); }
    },

    /* ---------- for tests and the operator console */
    featureCount: function () {
      var n = this.base.featureCount();
      for (var name in this.layers) {
        var layer = this.layers[name];
        if (layer.featureCount && this.map.hasLayer(layer)) { n += layer.featureCount(); }
      }
      return n + this.liveMarkers.length;
    },

    /* point markers the browser holds: features of the point layers shown, plus live ones */
    markerCount: function () {
      var n = this.liveMarkers.length, self = this;
      ["incidents", "cameras", "sensors"].forEach(function (name) {
        if (self.map.hasLayer(self.layers[name])) { n += self.layers[name].featureCount(); }
      });
      return n;
    },

    liveCount: function () { return this.liveMarkers.length; }
  };

  window.CityWall = Wall;
})();
