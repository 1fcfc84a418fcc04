// The zone form: offer the browser's own zone first, above the long list.
(function () {
  "use strict";
  var select = document.getElementById("zone-select");
  if (!select || !window.Intl) return;
  var own = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!own) return;
  var option = document.createElement("option");
  option.value = own;
  option.textContent = "Your browser's zone: " + own;
  option.id = "zone-own";
  select.insertBefore(option, select.options[1] || null);
  if (!select.dataset.chosen) select.value = own;
})();
