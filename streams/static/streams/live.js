// The live tail of today's page: what a reload would show, without one.
//
// The page renders <ol id="log" data-stream-url data-last-id> and its data
// in <script id="page-data" type="application/json"> (channel path, zone,
// day, bots). This script connects from data-last-id (closing the gap
// between render and connect) and, for each line the stream sends, does
// what the server's render does: the clock and the day link in the page's
// zone, runs of joins/parts folded, the line count and topic in the header,
// a day separator at midnight; a redaction replaces its line. It keeps the
// reader's place unless they were at the bottom, announces new lines to
// screen readers (politely, at most every few seconds), and shows the
// connection state with the next retry.
//
// Reconnecting is this script's, not the EventSource's: a native one gives
// up for good on a 502/503 (a deploy), and the polyfill doubles its delay
// on every failure (11 s to catch up after a restart). On any error the
// source is closed and a new one opened after the delays below, from the
// last id seen, the same for both.
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
  var PRESENCE_WORDS = { join: "joined", part: "left", quit: "quit", nick: "renamed" };
  var dataNode = document.getElementById("page-data");
  var page = dataNode ? JSON.parse(dataNode.textContent) : {};
  var zone = page.tz || "UTC";
  var clock = clockIn(zone);
  var dayOf = dayIn(zone);
  var currentDay = page.day || "";
  var bots = {};
  (page.bots || []).forEach(function (nick) { bots[nick] = 1; });
  var polyfill = new URL(
    "vendor/event-source-polyfill-1.0.31/eventsource.min.js",
    document.currentScript ? document.currentScript.src : window.location.href
  ).href;

  // The first retry is spread over 0.5-3 s, so that a deploy does not bring
  // every page back in the same second; the next ones come every 0.75-1.75 s
  // for about a quarter of a minute (a page catches up within 3 s of a
  // restarted server), then back off to 30 s for a longer outage.
  var FIRST_RETRY_MS = [500, 3000];
  var SOON_RETRY_MS = [750, 1750];
  var SOON_RETRIES = 12;
  var BACKOFF_MAX_MS = 30000;
  var failures = 0;
  var source = null;
  var timer = null;
  var countdown = null;

  // ---- connection state ---------------------------------------------------

  function setState(name, text) {
    if (!state) return;
    state.dataset.state = name;
    state.textContent = text || name;
  }

  function retryDelay() {
    var range;
    if (failures <= 1) range = FIRST_RETRY_MS;
    else if (failures <= SOON_RETRIES) range = SOON_RETRY_MS;
    else {
      var slow = Math.min(SOON_RETRY_MS[1] * Math.pow(2, failures - SOON_RETRIES), BACKOFF_MAX_MS);
      range = [slow / 2, slow];
    }
    return range[0] + Math.random() * (range[1] - range[0]);
  }

  function showRetry(at) {
    if (countdown) window.clearInterval(countdown);
    function tick() {
      var seconds = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      // One failure is a blip; more mean the server is away.
      var name = failures > 1 ? "offline" : "reconnecting";
      setState(name, name + " · retry in " + seconds + " s");
      if (state) state.dataset.retryAt = String(at);
    }
    tick();
    countdown = window.setInterval(tick, 1000);
  }

  function scheduleReconnect() {
    if (source) source.close();
    source = null;
    failures += 1;
    var delay = retryDelay();
    showRetry(Math.round(Date.now() + delay));
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(connect, delay);
  }

  // ---- time and days ------------------------------------------------------

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

  function weekdayOf(day) {
    return new Intl.DateTimeFormat("en-GB", { weekday: "long", timeZone: "UTC" })
      .format(new Date(day + "T12:00:00Z"));
  }

  // Midnight in the page's zone: the same separator as a range page, the
  // new day's link in the day navigation, and a heading that says both days.
  function startDay(day) {
    var label = weekdayOf(day) + ", " + day;
    var li = document.createElement("li");
    li.className = "day-sep";
    li.dataset.day = day;
    var h2 = document.createElement("h2");
    var link = document.createElement("a");
    var path = (page.base || "") + day + "/";
    link.setAttribute("href", path);
    link.textContent = label;
    h2.appendChild(link);
    li.appendChild(h2);
    log.appendChild(li);
    var heading = document.getElementById("day-heading");
    if (heading) {
      var first = heading.dataset.first || heading.textContent;
      heading.dataset.first = first;
      heading.textContent = first + " and " + label + " (since midnight)";
    }
    if (page.day && document.title.indexOf(page.day) !== -1 && document.title.indexOf(day) === -1) {
      document.title = document.title.replace(page.day, page.day + " and " + day);
    }
    var noNext = document.getElementById("no-next");
    if (noNext) {
      var next = document.createElement("a");
      next.rel = "next";
      next.setAttribute("href", path);
      next.textContent = day + " →";
      noNext.replaceWith(next);
    }
    currentDay = day;
  }

  // ---- lines --------------------------------------------------------------

  function atBottom() {
    var doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 40;
  }

  // What the server's render would have made of the stream's UTC markup.
  function localise(li, line) {
    var ts = li.querySelector(".ts");
    if (ts) {
      if (clock) ts.textContent = clock(line.timestamp);
      // The dated day page, as on a reload: a link that still works tomorrow.
      if (page.base) ts.setAttribute("href", page.base + dayOf(line.timestamp) + "/#L" + line.id);
    }
    if (bots[(line.nick || "").toLowerCase()]) li.classList.add("bot");
  }

  function kindOf(li) {
    var match = /(?:^| )k-(\w+)/.exec(li.className);
    return match ? match[1] : "";
  }

  function summary(run) {
    var counts = {};
    var order = [];
    Array.prototype.forEach.call(run.querySelectorAll("li.line"), function (li) {
      var kind = kindOf(li);
      if (!counts[kind]) { counts[kind] = 0; order.push(kind); }
      counts[kind] += 1;
    });
    return order.map(function (kind) { return counts[kind] + " " + PRESENCE_WORDS[kind]; }).join(", ");
  }

  // A join after a join folds into one run, as the server's render folds them.
  function appendPresence(li) {
    var last = log.lastElementChild;
    if (last && last.classList.contains("presence-run")) {
      last.querySelector("ol").appendChild(li);
      last.querySelector("summary").textContent = summary(last);
      return;
    }
    if (last && last.classList.contains("line") && PRESENCE[kindOf(last)]) {
      var run = document.createElement("li");
      run.className = "presence-run";
      run.innerHTML = "<details><summary></summary><ol></ol></details>";
      log.replaceChild(run, last);
      var inner = run.querySelector("ol");
      inner.appendChild(last);
      inner.appendChild(li);
      run.querySelector("summary").textContent = summary(run);
      return;
    }
    log.appendChild(li);
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function countLine() {
    var count = document.getElementById("line-count");
    if (!count) return;
    var n = (parseInt(count.dataset.count || "0", 10) || 0) + 1;
    count.dataset.count = String(n);
    count.textContent = n + (n === 1 ? " line" : " lines");
  }

  function showTopic(li) {
    var topic = document.getElementById("topic");
    var text = li.querySelector(".msg");
    if (!topic || !text) return;
    topic.innerHTML = text.innerHTML;
    topic.hidden = false;
  }

  function onLine(event) {
    var line = JSON.parse(event.data);
    if (line.id <= lastId) return;
    lastId = line.id;
    countLine();
    var li = parse(line.html);
    if (!li) return;
    localise(li, line);
    if (line.kind === "topic") showTopic(li);
    if (hidePresence && PRESENCE[line.kind]) return;
    var follow = atBottom();
    var empty = log.querySelector("li.empty");
    if (empty) empty.remove();
    var day = dayOf(line.timestamp);
    if (currentDay && day > currentDay) startDay(day);
    if (PRESENCE[line.kind]) appendPresence(li);
    else log.appendChild(li);
    announce(li);
    if (follow) window.scrollTo(0, document.documentElement.scrollHeight);
  }

  function onRedact(event) {
    var change = JSON.parse(event.data);
    var old = document.getElementById("L" + change.id);
    if (!old || !change.html) return;
    var li = parse(change.html);
    var ts = old.querySelector(".ts");
    if (!li || !ts) return;
    // The title holds the line's UTC time, as the stream's timestamp does.
    localise(li, { id: change.id, timestamp: ts.title, nick: "" });
    ["selected", "hl", "bot"].forEach(function (name) {
      if (old.classList.contains(name)) li.classList.add(name);
    });
    old.replaceWith(li);
  }

  // ---- screen readers -----------------------------------------------------

  // A polite live region, told at most every few seconds: a busy channel
  // would otherwise talk over everything the reader does.
  var announcer = document.getElementById("announcer");
  var ANNOUNCE_EVERY_MS = 5000;
  var unannounced = [];
  var announceTimer = null;
  var lastAnnounced = 0;

  function announce(li) {
    if (!announcer) return;
    unannounced.push(li);
    if (announceTimer) return;
    var wait = Math.max(500, lastAnnounced + ANNOUNCE_EVERY_MS - Date.now());
    announceTimer = window.setTimeout(flushAnnouncements, wait);
  }

  function flushAnnouncements() {
    announceTimer = null;
    lastAnnounced = Date.now();
    if (unannounced.length === 1) {
      var text = unannounced[0].textContent.replace(/\s+/g, " ").trim();
      announcer.textContent = "New line: " + text.slice(0, 300);
    } else if (unannounced.length > 1) {
      announcer.textContent = unannounced.length + " new lines";
    }
    unannounced = [];
  }

  // ---- the stream ---------------------------------------------------------

  function connect() {
    timer = null;
    var Source = window.EventSource || window.EventSourcePolyfill;
    var separator = streamUrl.indexOf("?") === -1 ? "?" : "&";
    source = new Source(streamUrl + separator + "last_event_id=" + lastId);
    if (!failures) setState("connecting");
    source.onopen = function () {
      failures = 0;
      if (countdown) window.clearInterval(countdown);
      countdown = null;
      if (state) delete state.dataset.retryAt;
      setState("live");
    };
    source.addEventListener("line", onLine);
    source.addEventListener("redact", onRedact);
    source.addEventListener("reload", function () {
      source.close();
      window.location.reload();
    });
    source.onerror = scheduleReconnect;
  }

  function start() {
    if (window.EventSource) {
      connect();
      return;
    }
    var script = document.createElement("script");
    script.src = polyfill;
    script.onload = connect;
    script.onerror = function () { setState("offline", "offline · no live updates"); };
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
