// The live tail of today's page: append each new line as the stream sends it.
//
// The page renders <ol id="log" data-stream-url data-last-id>; this script
// connects from data-last-id (closing the gap between render and connect),
// appends each line's markup (the same template as the page), keeps the
// reader's place unless they were at the bottom, and shows the connection
// state. A native EventSource gives up for good on a 502/503 (a deploy) or
// a wrong content type: then this script makes a new one, with backoff.
(function () {
  "use strict";

  var log = document.getElementById("log");
  if (!log || !log.dataset.streamUrl) return;
  var state = document.getElementById("live-state");
  var streamUrl = log.dataset.streamUrl;
  var lastId = parseInt(log.dataset.lastId || "0", 10) || 0;
  var params = new URLSearchParams(window.location.search);
  var hidePresence = params.get("presence") === "hide";
  var PRESENCE = { join: 1, part: 1, quit: 1, nick: 1 };
  var dataNode = document.getElementById("page-data");
  var page = dataNode ? JSON.parse(dataNode.textContent) : {};
  var zone = page.tz || "UTC";
  var clock = clockIn(zone);
  var dayOf = dayIn(zone);
  var bots = {};
  (page.bots || []).forEach(function (nick) { bots[nick] = 1; });
  var polyfill = new URL(
    "vendor/event-source-polyfill-1.0.31/eventsource.min.js",
    document.currentScript ? document.currentScript.src : window.location.href
  ).href;

  // Reconnect after 1 s, doubling to 30 s, each with up to 50 % jitter so a
  // deploy does not bring every page back in the same second.
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var backoff = BACKOFF_MIN_MS;
  var source = null;
  var timer = null;

  function setState(name) {
    if (state) state.dataset.state = name;
  }

  // The calendar day (YYYY-MM-DD) of an ISO time in the page's zone.
  function dayIn(zone) {
    var format = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit"
    });
    return function (iso) { return format.format(new Date(iso)); };
  }

  // Times arrive rendered in UTC; show them in the zone the page is in.
  function clockIn(zone) {
    if (!zone || zone === "UTC" || !window.Intl) return null;
    try {
      var format = new Intl.DateTimeFormat("en-GB", {
        timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
      });
      return function (iso) { return format.format(new Date(iso)); };
    } catch (e) {
      return null;
    }
  }

  function atBottom() {
    var doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 40;
  }

  function onLine(event) {
    var line = JSON.parse(event.data);
    if (line.id <= lastId) return;
    lastId = line.id;
    if (hidePresence && PRESENCE[line.kind]) return;
    var follow = atBottom();
    var empty = log.querySelector("li.empty");
    if (empty) empty.remove();
    log.insertAdjacentHTML("beforeend", line.html);
    var li = log.lastElementChild;
    var ts = li.querySelector(".ts");
    if (ts) {
      if (clock) ts.textContent = clock(line.timestamp);
      // The dated day page, as on a reload: a link that still works tomorrow.
      if (page.base) ts.setAttribute("href", page.base + dayOf(line.timestamp) + "/#L" + line.id);
    }
    if (bots[(line.nick || "").toLowerCase()]) li.classList.add("bot");
    if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function connect() {
    timer = null;
    var Source = window.EventSource || window.EventSourcePolyfill;
    var separator = streamUrl.indexOf("?") === -1 ? "?" : "&";
    source = new Source(streamUrl + separator + "last_event_id=" + lastId);
    setState("connecting");
    source.onopen = function () {
      backoff = BACKOFF_MIN_MS;
      setState("live");
    };
    source.addEventListener("line", onLine);
    source.addEventListener("reload", function () {
      source.close();
      window.location.reload();
    });
    source.onerror = function () {
      if (source.readyState !== 2) {
        setState("connecting");  // the browser reconnects by itself
        return;
      }
      source.close();
      setState("offline");
      var delay = backoff * (0.5 + Math.random() / 2);
      backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
      timer = window.setTimeout(connect, delay);
    };
  }

  function start() {
    if (window.EventSource) {
      connect();
      return;
    }
    var script = document.createElement("script");
    script.src = polyfill;
    script.onload = connect;
    script.onerror = function () { setState("offline"); };
    document.head.appendChild(script);
  }

  window.addEventListener("pagehide", function () {
    if (source) source.close();
    if (timer) window.clearTimeout(timer);
  });
  // Back from the back/forward cache: the old stream was closed on pagehide.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) connect();
  });
  start();
})();
