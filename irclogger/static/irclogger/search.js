// Search as you type: while the reader types in the search page's words
// field, ask search.json with the last word as a prefix (partial=1) and show
// the first matches under the form. The form still submits as before; this
// is only a preview. Text goes in through textContent, never as markup.
(function () {
  "use strict";

  var form = document.querySelector("form.search-form");
  var input = form && form.querySelector("input[name=q]");
  var preview = document.getElementById("search-preview");
  if (!form || !input || !preview || !window.fetch) return;
  var endpoint = preview.dataset.endpoint;
  var DELAY_MS = 250;
  var SHOWN = 8;
  var timer = null;
  var asked = 0;

  function render(data, number) {
    if (number !== asked) return;  // an answer to an older keystroke
    preview.textContent = "";
    var results = (data.results || []).slice(0, SHOWN);
    var status = document.createElement("p");
    status.className = "muted";
    status.textContent = data.explanation || (data.count_is_capped ? "More than " : "") +
      data.count + " match" + (data.count === 1 ? "" : "es") + " so far";
    preview.appendChild(status);
    var list = document.createElement("ol");
    list.className = "preview-results";
    results.forEach(function (result) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = result.url;
      link.textContent = result.timestamp.slice(0, 16).replace("T", " ") + " <" + result.nick + ">";
      item.appendChild(link);
      item.appendChild(document.createTextNode(" " + result.text.replace(/[\x00-\x1f]/g, "")));
      list.appendChild(item);
    });
    preview.appendChild(list);
  }

  function ask() {
    timer = null;
    var params = new URLSearchParams(new FormData(form));
    if (!params.get("q").trim()) {
      preview.textContent = "";
      return;
    }
    params.set("partial", "1");
    params.delete("after");
    params.delete("before");
    var number = ++asked;
    fetch(endpoint + "?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) render(data, number); })
      .catch(function () { /* a preview only: the form still works */ });
  }

  input.addEventListener("input", function () {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(ask, DELAY_MS);
  });
})();
