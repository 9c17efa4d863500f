// Keyboard navigation (j/k, Enter, /), one-click-only decision forms, the file filter and the
// preview frame. No third-party code.
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
      const search = document.getElementById("f-q") || document.getElementById("file-filter");
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

  // Preview in the page's frame, without loading the page again (the link still works without us).
  const preview = document.getElementById("preview");
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.preview[data-frame]");
    if (!link || !preview || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    const name = link.closest("tr").querySelector("a.file").title;
    const shown = document.createElement(link.hasAttribute("data-image") ? "img" : "iframe");
    shown.src = link.dataset.frame;
    if (shown.tagName === "IMG") shown.alt = name; else shown.title = name;
    const caption = document.createElement("p");
    caption.textContent = "Preview: " + name + " ";
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "close";
    close.addEventListener("click", () => { preview.replaceChildren(); preview.hidden = true; });
    const original = document.createElement("a");  // the bytes as received (a PDF's preview is a copy)
    original.href = link.dataset.original;
    original.download = "";
    original.textContent = "download the original";
    caption.append(close, " · ", original);
    preview.replaceChildren(caption, shown);
    preview.hidden = false;
    history.replaceState(null, "", link.href);
    preview.scrollIntoView({ block: "start" });
  });

  // Filter files: narrows the list as one types; on the server once the list is paged.
  const filter = document.getElementById("file-filter");
  const list = document.getElementById("file-list");
  if (filter && list) {
    let timer = 0;
    let asked = 0;
    const complete = list.hasAttribute("data-complete");
    const narrowHere = (text) => {
      let count = 0;
      list.querySelectorAll("details.group").forEach((group) => {
        let shown = 0;
        group.querySelectorAll("tbody tr").forEach((row) => {
          const match = row.querySelector("a.file").title.toLowerCase().includes(text);
          row.hidden = !match;
          if (match) shown += 1;
        });
        group.hidden = shown === 0;
        count += shown;
      });
      const total = list.querySelectorAll("tbody tr").length;
      document.getElementById("file-count").textContent =
        text ? `${count} of ${total} files match “${filter.value.trim()}”` : `${total} files`;
    };
    const askServer = async (text) => {
      const mine = ++asked;
      const response = await fetch(filter.dataset.url + "&files=" + encodeURIComponent(text),
                                   { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (response.ok && mine === asked) list.innerHTML = await response.text();
    };
    filter.addEventListener("input", () => {
      clearTimeout(timer);
      const text = filter.value.trim().toLowerCase();
      if (complete) narrowHere(text); else timer = setTimeout(() => askServer(filter.value.trim()), 200);
    });
    filter.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (complete) narrowHere(filter.value.trim().toLowerCase()); else askServer(filter.value.trim());
    });
  }
});
