// Progressive enhancement of /console/edities/KEY/voortgang: polls the JSON beside the page and
// updates the counts in place; without JavaScript the page's refresh link does the same.
(function () {
  "use strict";
  var box = document.getElementById("voortgang");
  if (!box || !window.fetch) { return; }
  var source = box.getAttribute("data-bron");
  function show(data) {
    ["summary", "rate", "end"].forEach(function (name) {
      var field = box.querySelector('[data-veld="' + name + '"]');
      if (field) { field.textContent = data[name]; }
    });
    var bar = box.querySelector("progress");
    if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
    Object.keys(data.counts).forEach(function (status) {
      var cell = document.querySelector('[data-telling="' + status + '"]');
      if (cell) { cell.textContent = data.counts[status]; }
    });
    if (data.finished) { window.location.reload(); }
  }
  function poll() {
    fetch(source, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { show(data); if (!data.finished) { setTimeout(poll, 5000); } } })
      .catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, 5000);
}());
