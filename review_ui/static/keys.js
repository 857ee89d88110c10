// Keyboard navigation, no build step. Event list: j / k (or ↓ / ↑) move, Enter opens. Event page: j older,
// k newer, r marks reviewed (or not), u back to the list. Keys typed into a form field are left alone.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return e.altKey || e.ctrlKey || e.metaKey || (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA|BUTTON)$/.test(t.tagName)));
  }
  function go(link) { if (link) { window.location.href = link.getAttribute("href"); } }

  var rows = Array.prototype.slice.call(document.querySelectorAll("#event-list tbody tr"));
  var current = -1;
  function select(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("selected", k === current); r.setAttribute("aria-selected", k === current ? "true" : "false"); });
    var link = rows[current].querySelector("a.event-link");
    if (link) { link.focus({ preventScroll: true }); }
    rows[current].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (e) {
    if (typing(e) && !(e.target && e.target.classList && e.target.classList.contains("event-link"))) { return; }
    if (rows.length) {
      if (e.key === "j" || e.key === "ArrowDown") { select(current + 1); e.preventDefault(); }
      else if (e.key === "k" || e.key === "ArrowUp") { select(current - 1); e.preventDefault(); }
      else if (e.key === "Enter" && current >= 0) { go(rows[current].querySelector("a.event-link")); e.preventDefault(); }
      return;
    }
    if (document.getElementById("event")) {
      if (e.key === "j") { go(document.getElementById("older-event")); }
      else if (e.key === "k") { go(document.getElementById("newer-event")); }
      else if (e.key === "u") { go(document.getElementById("back-to-events")); }
      else if (e.key === "r") { var f = document.getElementById("review-form"); if (f) { f.submit(); } }
    }
  });
})();
