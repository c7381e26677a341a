// Progressive enhancement only: every page works without this file.
// 1. Times are rendered in the URL's zone (`tz=`) by the server, UTC without one. Without one,
//    show them in the browser's zone and offer that zone in the filter form, so that the next
//    search carries it (and From/To are read in it).
// 2. The live-tail switch streams new rows over server-sent events.
(function () {
  "use strict";
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.title = el.getAttribute("datetime");
      el.textContent = d.toLocaleString(document.documentElement.lang, {
        year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
      });
    });
  }
  var chosen = function () { return document.body.hasAttribute("data-tz"); };
  document.addEventListener("DOMContentLoaded", function () {
    if (!chosen()) {
      localize(document);
      var tz = document.getElementById("f-tz");
      var mine = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (tz && !tz.value && mine) tz.value = mine;
    }
    var box = document.getElementById("live");
    if (!box || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var tbody = document.querySelector("#events tbody");
    var source = null;
    box.addEventListener("change", function () {
      if (source) { source.close(); source = null; status.textContent = ""; }
      if (!box.checked) return;
      source = new EventSource(box.getAttribute("data-tail"));
      source.addEventListener("row", function (e) {
        var t = document.createElement("tbody");
        t.innerHTML = e.data;
        var tr = t.firstElementChild;
        if (!tr) return;
        tr.classList.add("new");
        if (!chosen()) localize(tr);
        tbody.insertBefore(tr, tbody.firstChild);
        while (tbody.children.length > 500) tbody.removeChild(tbody.lastChild);
      });
      source.addEventListener("open", function () { status.textContent = "●"; });
      source.addEventListener("error", function () { status.textContent = "…"; });
    });
  });
})();
