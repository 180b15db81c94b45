// The events page, live: new events come in without a reload, and matches on lists with
// `notify` alert (a short tone, and a browser notification once the user allowed them), as do
// unknown faces (nobody on the lists) from the cameras this browser was told to watch so (kept
// in this browser's storage: an after-hours area on one desk need not alert every desk).
// Without this script the page reloads itself every 15 seconds (a <noscript> refresh).
(function () {
  "use strict";
  var region = document.querySelector("[data-live-region]");
  if (!region || !window.EventSource || !window.fetch) return;

  var alerts = document.createElement("button");
  alerts.type = "button";
  alerts.className = "link";
  alerts.dataset.testid = "enable-alerts";
  function showAlertState() {
    var state = window.Notification ? Notification.permission : "unsupported";
    alerts.textContent = state === "granted" ? "Alerts on" : "Enable alerts";
    alerts.disabled = state === "granted" || state === "unsupported" || state === "denied";
  }
  alerts.addEventListener("click", function () {
    if (window.Notification) Notification.requestPermission().then(showAlertState);
  });
  showAlertState();
  var heading = document.querySelector("h1");
  if (heading) heading.appendChild(alerts);

  // The cameras whose unknown faces alert here.
  var KEY = "dossier.unknown-cameras";
  function stored() {
    try { return window.localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }
  function watched() {
    return stored().split(",").map(function (c) { return c.trim(); }).filter(Boolean);
  }
  var unknownLabel = document.createElement("label");
  unknownLabel.className = "unknown-alerts";
  unknownLabel.textContent = "Alert for unknown faces from ";
  var unknownInput = document.createElement("input");
  unknownInput.dataset.testid = "unknown-cameras";
  unknownInput.placeholder = "no camera (e.g. yard, dock)";
  unknownInput.value = stored();
  unknownInput.addEventListener("change", function () {
    try { window.localStorage.setItem(KEY, unknownInput.value); } catch (e) { /* private mode */ }
  });
  unknownLabel.appendChild(unknownInput);
  var header = document.querySelector(".page-header");
  if (header) header.appendChild(unknownLabel);

  var status = document.createElement("span");
  status.className = "live-status";
  status.dataset.testid = "live-status";
  status.setAttribute("role", "status");
  if (heading) heading.appendChild(status);

  // Only the first page takes new events in; an older page says that some arrived.
  var first = region.dataset.liveEvents === "first";
  var waiting = false;
  var arrived = 0;
  var arrivedAt = {};

  function refresh() {
    if (waiting) return;
    waiting = true;
    setTimeout(function () {
      fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var seen = {};
          document.querySelectorAll("[data-event-id]").forEach(function (row) { seen[row.dataset.eventId] = true; });
          ["[data-live-region]", "[data-live-awaiting]"].forEach(function (selector) {
            var next = fresh.querySelector(selector);
            var current = document.querySelector(selector);
            if (next && current) current.replaceWith(next);
          });
          // What came in while the page was open stands out for a minute.
          var now = Date.now();
          document.querySelectorAll("[data-event-id]").forEach(function (row) {
            var id = row.dataset.eventId;
            if (!seen[id]) arrivedAt[id] = now;
            if (arrivedAt[id] && now - arrivedAt[id] < 60000) row.classList.add("new");
          });
        })
        .catch(function () {})
        .then(function () { waiting = false; });
    }, 250);
  }

  var audio = null;
  function tone() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.2, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) { /* no sound here */ }
  }

  function alert(event) {
    tone();
    if (window.Notification && Notification.permission === "granted") {
      var confidence = event.confidence == null ? "" : " (" + event.confidence.toFixed(2) + ")";
      var title = event.dossier_name == null ? "Unknown face" : "Match: " + event.dossier_name + confidence;
      new Notification(title, { body: "Camera " + event.camera, tag: "event-" + event.id });
    }
    document.body.dataset.lastAlert = String(event.id);
  }

  var source = new EventSource("/events/live");
  source.addEventListener("open", function () { status.textContent = " · live"; });
  source.addEventListener("error", function () { status.textContent = " · reconnecting…"; });
  source.addEventListener("face", function (message) {
    var event = JSON.parse(message.data);
    var unknown = event.dossier_name == null && watched().indexOf(event.camera) >= 0;
    if (event.notify || unknown) alert(event);
    if (first) {
      refresh();
    } else {
      arrived += 1;
      status.textContent = " · " + arrived + " new since this page (see the newest)";
    }
  });
  source.addEventListener("missed", function () { if (first) refresh(); });
})();
