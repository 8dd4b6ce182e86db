/* cityaware kiosk: emergency mode (平急联动). CityKiosk calls show(kiosk, state) with the
 * answer of GET /v1/dashboard/emergency whenever a wall-emergency-* event arrives. */
(function () {
  "use strict";

  function list(kiosk, title, rows) {
    return "<h3>" + kiosk.esc(title) + "</h3><ul>" + rows.map(function (r) { return "<li>" + r + "</li>"; }).join("") + "</ul>";
  }

  window.CityKioskEmergency = {
    show: function (kiosk, state) {
      var wall = kiosk.wall, map = wall.map, w = kiosk.words, esc = kiosk.esc;
      var was = kiosk.emergency && kiosk.emergency.active;
      kiosk.emergency = state;
      document.body.classList.toggle("cw-emergency", !!state.active);
      document.body.setAttribute("data-emergency", state.active ? state.incident.id : "");
      document.getElementById("kb-emergency").textContent = state.active ? w.emergency_off : w.emergency;
      kiosk.setQuery("emergency", state.active ? state.incident.id : null);
      var panel = document.getElementById("kb-incident");
      if (kiosk.emergencyLayer) { map.removeLayer(kiosk.emergencyLayer); kiosk.emergencyLayer = null; }
      if (!state.active) {
        panel.classList.add("kb-hidden");
        if (was && kiosk.normalView) { map.setView(kiosk.normalView[0], kiosk.normalView[1], { animate: false }); }
        kiosk.normalView = null;
        return;
      }
      if (!kiosk.normalView) { kiosk.normalView = [map.getCenter(), map.getZoom()]; }
      var inc = state.incident, layer = L.featureGroup();
      if (state.grids) {
        L.geoJSON(state.grids, { style: function (f) {
          var own = f.properties.role === "incident";
          return { color: own ? wall.style.alarm : "#ffffff", weight: own ? 4 : 1.5, opacity: 0.9, fill: own, fillOpacity: 0.08 };
        } }).addTo(layer);
      }
      state.cameras.concat(state.devices).forEach(function (d) {
        L.circleMarker([d.lat, d.lon], { radius: 6, color: "#ffffff", weight: 2, fillColor: wall.style.neutral,
          fillOpacity: 0.9 }).bindTooltip(esc(d.kind + " " + d.id)).addTo(layer);
      });
      L.circleMarker([inc.lat, inc.lon], { radius: 12, color: wall.style.alarm, weight: 4, fillOpacity: 0.3,
        className: "cw-alarm" }).addTo(layer);
      kiosk.emergencyLayer = layer.addTo(map);
      map.fitBounds(layer.getBounds(), { animate: false, maxZoom: 17 });
      var fmt = function (at) { return esc(String(at).slice(0, 16).replace("T", " ")); };
      panel.querySelector(".kb-body").innerHTML =
        '<p class="kb-what" data-incident="' + esc(inc.id) + '"><b>' + esc(inc.title || inc.category) + "</b> · " +
        esc(w[inc.status] || inc.status) + "<br>" + esc(inc.address || "") + "</p>" +
        list(kiosk, w.timeline, state.timeline.map(function (h) {
          return fmt(h.at) + " " + esc(w[h.to_status] || h.to_status) + (h.note ? " · " + esc(h.note) : "");
        })) +
        list(kiosk, w.cameras, state.cameras.map(function (c) { return esc(c.id) + " " + Math.round(c.distance_m) + " m"; })) +
        list(kiosk, w.devices, state.devices.map(function (d) { return esc(d.id) + " " + Math.round(d.distance_m) + " m"; })) +
        list(kiosk, w.workers, state.workers.map(function (p) { return esc(p.name) + " " + esc(p.phone || "") + " <small>" + esc(p.grid || "") + "</small>"; }));
      panel.classList.remove("kb-hidden");
    }
  };
})();
