// Reading a log page: select a line (click a time) or a range (shift-click),
// kept in the URL as #L10 or #L10-L20; copy a link to it; keyboard shortcuts;
// the reader's settings panel. The page works without it.
(function () {
  "use strict";

  var log = document.getElementById("log");
  var dataNode = document.getElementById("page-data");
  var data = dataNode ? JSON.parse(dataNode.textContent) : {};
  var copyButton = document.getElementById("copy-link");
  var copyStatus = document.getElementById("copy-status");
  var HASH = /^#L(\d+)(?:-L(\d+))?$/;
  var selection = null;  // {first: id, last: id}, first earlier on the page
  var anchor = null;  // the line a shift-click extends from

  // ---- selection ----------------------------------------------------------

  function lineById(id) { return document.getElementById("L" + id); }

  function allLines() { return log ? Array.prototype.slice.call(log.querySelectorAll("li.line")) : []; }

  function paint() {
    allLines().forEach(function (li) { li.classList.remove("selected", "hl"); });
    if (!selection) return;
    var lines = allLines();
    var a = lines.indexOf(lineById(selection.first));
    var b = lines.indexOf(lineById(selection.last));
    if (a < 0 || b < 0) return;
    for (var i = Math.min(a, b); i <= Math.max(a, b); i++) {
      lines[i].classList.add("selected");
      var run = lines[i].closest("details");
      if (run) run.open = true;
    }
  }

  function fragment() {
    if (!selection) return "";
    return selection.first === selection.last
      ? "#L" + selection.first
      : "#L" + selection.first + "-L" + selection.last;
  }

  // The URL keeps the page's own parameters but never a stale ?hl.
  function cleanSearch() {
    var params = new URLSearchParams(window.location.search);
    params.delete("hl");
    var query = params.toString();
    return query ? "?" + query : "";
  }

  function select(first, last) {
    selection = first === null ? null : { first: first, last: last };
    if (first === null) anchor = null;
    paint();
    history.replaceState(history.state, "", window.location.pathname + cleanSearch() + fragment());
    if (copyButton) copyButton.hidden = !selection;
    if (copyStatus) copyStatus.textContent = "";
  }

  // The dated day page of the selection's first line: a link that lasts.
  function selectionUrl() {
    var li = lineById(selection.first);
    var ts = li && li.querySelector("a.ts");
    var href = ts ? ts.href : window.location.href;
    return href.replace(/#.*$/, "") + fragment();
  }

  function fromHash() {
    var match = HASH.exec(window.location.hash);
    if (!match) return;
    var first = +match[1];
    var last = match[2] ? +match[2] : first;
    if (!lineById(first)) {
      // Not on this page (another zone's day, or yesterday's "today"):
      // the permalink knows the line's day.
      if (data.base) {
        var end = last !== first ? "?end=" + last : "";
        window.location.replace(data.base + "line/" + first + "/" + end);
      }
      return;
    }
    selection = { first: first, last: last };
    anchor = first;
    paint();
    if (copyButton) copyButton.hidden = false;
    lineById(first).scrollIntoView({ block: "start" });
  }

  if (log) {
    log.addEventListener("click", function (event) {
      var ts = event.target.closest("a.ts");
      if (!ts || event.ctrlKey || event.metaKey || event.altKey || event.button !== 0) return;
      var li = ts.closest("li.line");
      if (!li) return;
      event.preventDefault();
      var id = +li.dataset.id;
      if (event.shiftKey && anchor !== null && lineById(anchor)) {
        // From the line clicked first to this one, earlier line first.
        var lines = allLines();
        var before = lines.indexOf(li) < lines.indexOf(lineById(anchor));
        select(before ? id : anchor, before ? anchor : id);
      } else {
        anchor = id;
        select(id, id);
      }
    });
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }

  function copied(text) {
    if (copyStatus) copyStatus.textContent = text;
  }

  function copyFallback(url) {
    var field = document.createElement("textarea");
    field.value = url;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var ok = document.execCommand("copy");
    field.remove();
    copied(ok ? "Link copied." : "Copy failed: " + url);
  }

  if (copyButton) {
    copyButton.addEventListener("click", function () {
      if (!selection) return;
      var url = selectionUrl();
      copyButton.dataset.url = url;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(
          function () { copied("Link copied."); },
          function () { copyFallback(url); }
        );
      } else {
        copyFallback(url);
      }
    });
  }

  // ---- keyboard -----------------------------------------------------------

  var shortcuts = document.getElementById("shortcuts");
  var shortcutsOpen = document.getElementById("shortcuts-open");

  function showShortcuts() {
    if (shortcuts && !shortcuts.open) shortcuts.showModal();
  }

  if (shortcutsOpen && shortcuts && shortcuts.showModal) {
    shortcutsOpen.hidden = false;
    shortcutsOpen.addEventListener("click", showShortcuts);
  }

  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable]") !== null;
  }

  function follow(selector) {
    var link = document.querySelector(selector);
    if (link) window.location.href = link.href;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (shortcuts && shortcuts.open) return;  // the dialog handles Esc itself
    if (event.key === "ArrowLeft") follow(".daynav a[rel=prev]");
    else if (event.key === "ArrowRight") follow(".daynav a[rel=next]");
    else if (event.key === "/") {
      var search = document.getElementById("quick-search");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "Escape") {
      if (selection) select(null, null);
    } else if (event.key === "?") {
      showShortcuts();
    } else {
      return;
    }
  });

  // ---- reader settings ----------------------------------------------------

  var panel = document.getElementById("reader-settings");
  var store = window.ircloggerSettings;
  if (panel && store) {
    panel.hidden = false;
    Array.prototype.forEach.call(panel.querySelectorAll("[data-setting]"), function (control) {
      var name = control.dataset.setting;
      if (control.type === "checkbox") {
        control.checked = !!store.get(name);
        control.addEventListener("change", function () { store.save(name, control.checked); });
      } else {
        control.value = store.get(name) || "";
        control.addEventListener("change", function () { store.save(name, control.value); });
      }
    });
  }

  window.ircloggerPage = { data: data, paint: paint };
})();
