// The desk's pages: a few hundred lines of plain JavaScript, no framework, nothing from outside.
// Every form also works without it; this adds the live parts: the subject hint, reordering by
// drag and drop or Alt+Arrow, the article editor's live preview, the notice when a file changed
// on disk, the Markdown toolbar, repeatable contacts, and the schedule's three clocks.
(function () {
  "use strict";
  const body = document.body;

  function debounce(fn, ms) {
    let timer = null;
    return function () { window.clearTimeout(timer); timer = window.setTimeout(fn, ms); };
  }

  // ── the 70-character subject hint ──
  document.querySelectorAll("input[data-hint-limit]").forEach(function (input) {
    const hint = document.getElementById(input.getAttribute("aria-describedby"));
    const limit = Number(input.dataset.hintLimit);
    function update() {
      const count = Array.from(input.value).length;
      const template = count > limit ? hint.dataset.hintOver : hint.dataset.hintTemplate;
      hint.textContent = template.replace("{count}", String(count));
      hint.classList.toggle("over", count > limit);
    }
    input.addEventListener("input", update);
    update();
  });

  // ── the article list: drag and drop, Alt+Arrow, announced ──
  const list = document.getElementById("article-list");
  const orderForm = document.getElementById("order-form");
  const status = document.getElementById("order-status");
  function setVersion(version) {
    document.querySelectorAll('input[data-file="issue.md"]').forEach(function (i) { i.value = version; });
  }
  function saveOrder(item) {
    const data = new FormData(orderForm);
    data.delete("move");
    const items = Array.from(list.children);
    const position = items.indexOf(item) + 1;
    fetch(orderForm.action, { method: "POST", body: data, headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (answer) {
        if (answer[1].version) setVersion(answer[1].version);
        const said = answer[0] ? list.dataset.moved || "" : answer[1].message;
        status.textContent = (item.getAttribute("aria-label") || "") + ": " + position + " / " + items.length +
          ". " + (answer[0] ? answer[1].message : said);
        status.dataset.state = answer[0] ? "ok" : "error";
      });
  }
  if (list && orderForm) {
    let dragged = null;
    list.addEventListener("dragstart", function (e) {
      dragged = e.target.closest("li");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.name);
      dragged.classList.add("dragging");
    });
    list.addEventListener("dragover", function (e) {
      const over = e.target.closest("li");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      const box = over.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (e) { e.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      saveOrder(dragged);
      dragged = null;
    });
    list.addEventListener("keydown", function (e) {
      const item = e.target.closest("li");
      if (!item || e.target !== item || !e.altKey || (e.key !== "ArrowUp" && e.key !== "ArrowDown")) return;
      e.preventDefault();
      const other = e.key === "ArrowUp" ? item.previousElementSibling : item.nextElementSibling;
      if (!other) return;
      list.insertBefore(item, e.key === "ArrowUp" ? other : other.nextSibling);
      item.focus();
      saveOrder(item);
    });
  }

  // ── the article editor ──
  const form = document.getElementById("article-form");
  if (form) editor(form);

  function editor(form) {
    const frame = document.getElementById("draft");
    const state = document.getElementById("preview-state");
    const problems = document.getElementById("render-problems");
    let asked = 0;
    function render() {
      const data = new FormData(form);
      data.delete("image_file");
      const mine = ++asked;
      fetch(form.dataset.render, { method: "POST", body: data, headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (mine !== asked) return; // an older answer after a newer question
          showProblems(answer.problems || []);
          if (answer.frame) { frame.src = answer.frame; state.textContent = answer.edition; }
        });
    }
    function showProblems(found) {
      form.querySelectorAll("[data-error-for]").forEach(function (el) { el.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
      problems.textContent = "";
      found.forEach(function (p) {
        const line = document.createElement("code");
        line.textContent = p.text;
        problems.appendChild(line);
        const slot = p.field && form.querySelector('[data-error-for="' + p.field + '"]');
        if (slot) slot.textContent = p.text;
        const input = p.field && form.querySelector('[name="' + p.field + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      });
    }
    const later = debounce(render, 300);
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    document.getElementById("member").addEventListener("change", render);
    render();

    document.querySelectorAll("[data-width]").forEach(function (button) {
      button.addEventListener("click", function () {
        document.querySelectorAll("[data-width]").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
        document.getElementById("draft-box").className = "draft-frame " + button.dataset.width;
      });
    });

    toolbar(document.getElementById("f-body"));
    contacts();
    watchDisk(form);
  }

  function toolbar(area) {
    const wraps = { bold: ["**", "**"], italic: ["*", "*"], link: ["[", "](https://)"] };
    document.querySelectorAll("[data-md]").forEach(function (button) {
      button.addEventListener("click", function () {
        const kind = button.dataset.md;
        const start = area.selectionStart, end = area.selectionEnd;
        const chosen = area.value.slice(start, end);
        let text;
        if (wraps[kind]) {
          text = wraps[kind][0] + chosen + wraps[kind][1];
        } else {
          const prefix = kind === "list" ? "- " : "## ";
          const lineStart = area.value.lastIndexOf("\n", start - 1) + 1;
          area.setRangeText(prefix, lineStart, lineStart, "end");
          area.dispatchEvent(new Event("input", { bubbles: true }));
          area.focus();
          return;
        }
        area.setRangeText(text, start, end, "select");
        area.dispatchEvent(new Event("input", { bubbles: true }));
        area.focus();
      });
    });
  }

  function contacts() {
    const holder = document.getElementById("contact-list");
    function renumber() {
      Array.from(holder.children).forEach(function (row, i) {
        row.querySelectorAll("input").forEach(function (input) {
          const id = input.name.replace("contact_", "f-contact_") + "-" + i;
          const label = row.querySelector('label[for="' + input.id + '"]');
          input.id = id;
          if (label) label.htmlFor = id;
        });
      });
    }
    holder.addEventListener("click", function (e) {
      const button = e.target.closest(".remove-contact");
      if (!button) return;
      const row = button.closest("[data-contact]");
      if (holder.children.length > 1) row.remove();
      else row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      renumber();
      holder.dispatchEvent(new Event("input", { bubbles: true }));
    });
    document.getElementById("add-contact").addEventListener("click", function () {
      const row = holder.lastElementChild.cloneNode(true);
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      holder.appendChild(row);
      renumber();
      row.querySelector("input").focus();
    });
  }

  // A file changed on disk while the page is open: say so, show it, keep what was typed.
  function watchDisk(form) {
    if (!window.EventSource) return;
    const notice = document.getElementById("disk-notice");
    const source = new EventSource((body.dataset.base || "") + "/events");
    source.addEventListener("version", function () {
      fetch(form.dataset.fileUrl, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (disk) {
          if (!disk.version || disk.version === document.getElementById("version").value) return;
          document.getElementById("disk-now").value = disk.text || "";
          notice.hidden = false;
        });
    });
  }

  // ── the schedule's clocks ──
  const scheduleForm = document.getElementById("schedule-form");
  if (scheduleForm) {
    const at = document.getElementById("at"), segment = document.getElementById("segment");
    const ask = debounce(function () {
      if (!at.value) return;
      const query = new URLSearchParams({ segment: segment.value, at: at.value });
      fetch(scheduleForm.dataset.times + "?" + query, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (t) {
          document.getElementById("time-local").textContent = t.local || "–";
          document.getElementById("time-berlin").textContent = t.berlin || "–";
          document.getElementById("time-utc").textContent = t.utc || "–";
          document.getElementById("time-error").textContent = t.error || "";
        });
    }, 200);
    at.addEventListener("input", ask);
    segment.addEventListener("change", ask);
    ask();
  }
})();
