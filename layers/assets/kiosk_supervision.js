/* cityaware kiosk: the 督办 panel, the newest supervision events (deadline near, overdue,
 * escalated) of the hotline layout.
 *
 * Filled from /v1/dashboard's newest.supervision, then live: an incident event of the stream
 * whose data.op is one of board.supervision (kiosk.js passes the events its filters let
 * through). Each event is listed once (case, op, time); a click flies to the case like the
 * live list. window.CityKioskSupervision.items is what the browser tests read.
 */
(function () {
  "use strict";

  var MAX = 30;

  var Supervision = {
    items: [],  // newest first: {id, op, at (ms), title, category, status, lon, lat}
    seen: {},

    start: function (kiosk, list) {
      this.kiosk = kiosk; this.list = list; this.ops = kiosk.board.supervision || [];
    },

    fromFigures: function (events) {
      var self = this;
      (events || []).forEach(function (e) { self.add(e, Date.parse(e.at)); });
      this.draw();
    },

    onEvent: function (ev) {
      if (this.ops.indexOf(ev.op) < 0) { return; }
      this.add(ev, ev.updated_at || Date.now());
      this.draw();
    },

    add: function (e, at) {
      var key = e.id + "|" + e.op + "|" + at;
      if (this.seen[key]) { return; }
      this.seen[key] = true;
      this.items.push({ kind: "incidents", id: e.id, op: e.op, at: at, title: e.title, category: e.category,
        status: e.status, lon: e.lon, lat: e.lat });
      this.items.sort(function (a, b) { return b.at - a.at; });
      this.items.splice(MAX).forEach(function (old) { delete this.seen[old.id + "|" + old.op + "|" + old.at]; }, this);
    },

    draw: function () {
      var k = this.kiosk, w = k.words, list = this.list;
      var clock = new Intl.DateTimeFormat("zh-CN", { timeZone: k.board.city.timezone,
        hour: "2-digit", minute: "2-digit", hour12: false });
      list.innerHTML = "";
      this.items.forEach(function (item) {
        var li = k.el("li", "kb-row kb-sv-" + item.op, "<time>" + clock.format(new Date(item.at)) + "</time><b>" +
          k.esc(w[item.op] || item.op) + "</b> " + k.esc(item.title || item.category || "") + " <small>" +
          k.esc(w[item.status] || item.status || "") + "</small>");
        li.setAttribute("data-id", item.id);
        li.setAttribute("data-op", item.op);
        li.onclick = function () { k.flyTo(item); };
        list.appendChild(li);
      });
    }
  };

  window.CityKioskSupervision = Supervision;
})();
