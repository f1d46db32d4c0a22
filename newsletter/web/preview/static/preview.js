// Preview page behaviour: live reload over Server-Sent Events, frame sizing, small conveniences.
// Runs only on the app's own pages; the mail itself is in a sandboxed frame without scripts.
(function () {
  "use strict";
  const body = document.body;
  const dot = document.getElementById("live-dot");

  function frameDoc(frame) {
    try { return frame.contentDocument; } catch (e) { return null; }
  }

  function fitFrame(frame) {
    const doc = frameDoc(frame);
    if (!doc || !doc.documentElement) return;
    let height = Math.ceil(doc.documentElement.getBoundingClientRect().height);
    if (height < 50) height = doc.documentElement.scrollHeight;
    frame.style.height = Math.max(height, 200) + "px";
  }

  function watchFrame(frame) {
    frame.addEventListener("load", function () {
      fitFrame(frame);
      const doc = frameDoc(frame);
      if (doc && "fonts" in doc) doc.fonts.ready.then(function () { fitFrame(frame); });
      // Images arrive after load of the document in some cases: refit when they do.
      if (doc) doc.querySelectorAll("img").forEach(function (img) {
        if (!img.complete) img.addEventListener("load", function () { fitFrame(frame); });
      });
      body.dataset.frameVersion = body.dataset.version;
    });
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") fitFrame(frame);
  }

  async function refresh(version) {
    let html;
    try {
      const response = await fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" });
      html = await response.text();
    } catch (e) { return; }
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const open = Array.from(document.querySelectorAll("details[open][id]")).map(function (d) { return d.id; });
    document.querySelectorAll("[data-live]").forEach(function (el) {
      const other = fresh.querySelector('[data-live="' + el.dataset.live + '"]');
      if (other) el.innerHTML = other.innerHTML;
    });
    open.forEach(function (id) { const d = document.getElementById(id); if (d) d.open = true; });
    const frame = document.getElementById("mail");
    const freshFrame = fresh.getElementById("mail");
    if (frame && frame.dataset.src && freshFrame && freshFrame.dataset.frame !== frame.dataset.frame) {
      frame.dataset.frame = freshFrame.dataset.frame;
      frame.src = frame.dataset.src + "&v=" + version;
    }
    body.dataset.version = version;
    if (!frame) body.dataset.frameVersion = version;
    bindAutosubmit();
  }

  function connect() {
    if (!window.EventSource) return;
    const source = new EventSource((body.dataset.base || "") + "/events");
    source.addEventListener("open", function () { dot.classList.remove("off"); dot.textContent = "live"; });
    source.addEventListener("error", function () { dot.classList.add("off"); dot.textContent = "reconnecting…"; });
    source.addEventListener("version", function (event) {
      if (event.data !== body.dataset.version) refresh(event.data);
    });
    source.addEventListener("outbox", function () {
      if (body.dataset.page === "outbox") refresh(body.dataset.version);
    });
  }

  function bindAutosubmit() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      if (select.dataset.bound) return;
      select.dataset.bound = "1";
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  const frame = document.getElementById("mail");
  if (frame) watchFrame(frame);
  if (body.dataset.page === "delivery") {
    window.setInterval(function () { refresh(body.dataset.version); }, 3000);
  }
  bindAutosubmit();
  connect();
  window.addEventListener("resize", function () { if (frame) fitFrame(frame); });
})();
