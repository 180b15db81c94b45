// The events page, live: new events come in without a reload, and matches on lists with
// `notify` alert (a short tone, and a browser notification once the user allowed them).
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
      new Notification("Match: " + event.dossier_name + confidence, { body: "Camera " + event.camera, tag: "event-" + event.id });
    }
  }

  var source = new EventSource("/events/live");
  source.addEventListener("open", function () { status.textContent = " · live"; });
  source.addEventListener("error", function () { status.textContent = " · reconnecting…"; });
  source.addEventListener("face", function (message) {
    var event = JSON.parse(message.data);
    if (event.notify) alert(event);
    if (first) {
      refresh();
    } else {
      arrived += 1;
      status.textContent = " · " + arrived + " new since this page (see the newest)";
    }
  });
  source.addEventListener("missed", function () { if (first) refresh(); });
})();
