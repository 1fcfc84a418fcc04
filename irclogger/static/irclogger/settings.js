// The reader's settings, kept in this browser (localStorage), applied to
// <html> before the first paint: loaded without defer from <head>.
(function () {
  "use strict";
  var KEY = "irclogger.settings";
  var FLAGS = ["hide-presence", "hide-bots", "no-nick-colours", "compact"];
  var settings = {};
  try {
    settings = JSON.parse(window.localStorage.getItem(KEY) || "{}") || {};
  } catch (e) {
    settings = {};
  }
  var root = document.documentElement;
  // Scripts run: page.js marks the selection (instead of CSS :target).
  root.classList.add("js");

  function apply() {
    FLAGS.forEach(function (flag) { root.classList.toggle(flag, !!settings[flag]); });
    if (settings.theme === "light" || settings.theme === "dark") {
      root.dataset.theme = settings.theme;
    } else {
      delete root.dataset.theme;
    }
  }

  function save(name, value) {
    settings[name] = value;
    try {
      window.localStorage.setItem(KEY, JSON.stringify(settings));
    } catch (e) {
      // Private browsing without storage: the setting lasts for this page.
    }
    apply();
  }

  apply();
  window.ircloggerSettings = { get: function (name) { return settings[name]; }, save: save };
})();
