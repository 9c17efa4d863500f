// Keyboard navigation (j/k, Enter, /) and one-click-only decision forms. No third-party code.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const rows = Array.from(document.querySelectorAll("[data-keyboard-list] tbody tr[data-href]"));
  let current = -1;
  const select = (i) => {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, n) => r.classList.toggle("current", n === current));
    rows[current].scrollIntoView({ block: "nearest" });
  };
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select")) return;
    if (event.key === "/") {
      const search = document.getElementById("f-q");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (rows.length && (event.key === "j" || event.key === "k")) {
      select(current + (event.key === "j" ? 1 : -1));
    } else if (rows.length && event.key === "Enter" && current >= 0) {
      window.location.href = rows[current].dataset.href;
    } else if (!rows.length && (event.key === "j" || event.key === "k")) {
      const link = document.getElementById(event.key === "j" ? "next-case" : "prev-case");
      if (link) window.location.href = link.href;
    }
  });
  // A decision form is sent once; the server's idempotency key covers what this cannot (resent forms).
  document.querySelectorAll("form[data-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      setTimeout(() => form.querySelectorAll("button[type=submit]").forEach((b) => { b.disabled = true; }), 0);
    });
  });
});
