// Progressive enhancement only: every page works without this file.
// 1. Times are rendered in UTC by the server; show them in the viewer's own time zone.
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
  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
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
        localize(tr);
        tbody.insertBefore(tr, tbody.firstChild);
        while (tbody.children.length > 500) tbody.removeChild(tbody.lastChild);
      });
      source.addEventListener("open", function () { status.textContent = "●"; });
      source.addEventListener("error", function () { status.textContent = "…"; });
    });
  });
})();
