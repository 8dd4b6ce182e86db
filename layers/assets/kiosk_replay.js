/* cityaware kiosk: replay of one local day or hour (?replay=2026-12-01T08&speed=60).
 * The incidents come from GET /v1/dashboard/replay; a clock runs from the period's start
 * at ``speed`` times real time and each incident flashes on the map (the wall's bounded
 * live markers) and in the list when the clock passes its time. */
(function () {
  "use strict";

  var STEP_MS = 250;

  window.CityKioskReplay = {
    active: false,
    shown: 0,

    /* the time the header clock shows: the replay's clock while one runs */
    now: function () {
      return this.active ? new Date(this.clock) : new Date();
    },

    start: function (kiosk, at, speed) {
      var self = this;
      this.speed = Math.max(1, parseFloat(speed) || 60);
      return kiosk.getJSON(kiosk.board.replay + "?at=" + encodeURIComponent(at)).then(function (body) {
        self.items = body.incidents; self.next = 0; self.clock = body.start_ms; self.end = body.end_ms;
        self.active = true;
        document.body.setAttribute("data-replay", "running");
        self.timer = setInterval(function () { self.step(kiosk); }, STEP_MS);
      }).catch(function (err) { kiosk.wall.notice("replay: " + err.message); });
    },

    step: function (kiosk) {
      this.clock += STEP_MS * this.speed;
      while (this.next < this.items.length && Date.parse(this.items[this.next].reported_at) <= this.clock) {
        var ev = this.items[this.next++];
        ev.kind = "incidents";
        kiosk.wall.flash(ev, kiosk.wall.style.live.incident, "incident");
        kiosk.addRow("incident", ev, Date.parse(ev.reported_at));
        this.shown += 1;
      }
      if (this.clock >= this.end) {
        clearInterval(this.timer);
        this.active = false;
        document.body.setAttribute("data-replay", "done");
      }
    }
  };
})();
