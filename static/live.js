// Live pages: one stream per browser (GET /live) tells this page what changed, and the page answers each nudge with
// its one GET, by dispatching the `*-changed` body event its htmx elements listen for (containers-changed, …).
//   1. A SharedWorker (static/live-worker.js) holds the browser's one EventSource and relays to every tab.
//   2. Without SharedWorker (Android Chrome): the tabs elect a leader with Web Locks, which holds the EventSource
//      and relays over a BroadcastChannel; without those, each tab holds its own EventSource.
//   3. Without EventSource: every page asks again each `data-live-every` seconds (the GETs answer 204 while
//      nothing changed), the polling that the stream replaced, kept as the fallback only.
// The stream's `close` (signed out, a seat link revoked, the class over, the session expired) reloads the page,
// whose GET then says so.
(function () {
  "use strict";

  var EVENTS = {
    // What the checks look at changed too: the board's GET asks for them again (views.refresh_checks).
    containers: ["containers-changed", "board-changed"], board: ["board-changed"], grid: ["grid-changed"],
    transcript: ["transcript-changed"], lesson: ["lesson-changed"], build: ["build-changed"], join: ["join-changed"]
  };
  EVENTS.tick = ["containers-changed", "board-changed", "grid-changed"];  // ages and time-based checks move on
  EVENTS.all = Object.keys(EVENTS).reduce(function (all, topic) {
    return all.concat(EVENTS[topic].filter(function (name) { return all.indexOf(name) < 0; }));
  }, []);

  function changed(topics) {
    var names = [];
    topics.forEach(function (topic) {
      (EVENTS[topic] || []).forEach(function (name) { if (names.indexOf(name) < 0) names.push(name); });
    });
    names.forEach(function (name) { htmx.trigger(document.body, name); });
  }

  function receive(message) {
    if (message.type === "changed") changed(message.topics);
    if (message.type === "close") window.location.reload();
  }

  function eventSource(url, relay) {
    var source = new EventSource(url);
    source.addEventListener("changed", function (event) { relay({type: "changed", topics: event.data.split(" ")}); });
    source.addEventListener("close", function (event) {
      source.close();
      relay({type: "close", reason: event.data});
    });
    return source;
  }

  function start() {
    var body = document.body;
    var url = body.getAttribute("data-live");
    if (!url) return;
    var viewer = "live:" + body.getAttribute("data-live-viewer");
    var first = url + "?since=" + encodeURIComponent(body.getAttribute("data-live-since") || "");
    document.documentElement.setAttribute("data-live-mode", "starting");
    var mode;
    if (!window.EventSource) {
      mode = "polling";
      var every = parseFloat(body.getAttribute("data-live-every")) || 1;
      setInterval(function () { changed(["all"]); }, every * 1000);
    } else if (window.SharedWorker) {
      mode = "shared-worker";
      var worker = new SharedWorker(body.getAttribute("data-live-worker"), {name: viewer});
      worker.port.onmessage = function (message) { receive(message.data); };
      worker.port.start();
      worker.port.postMessage({open: first});
      window.addEventListener("pagehide", function () { worker.port.postMessage({bye: true}); });
    } else if (window.BroadcastChannel && navigator.locks) {
      mode = "leader";
      var channel = new BroadcastChannel(viewer);
      channel.onmessage = function (message) { receive(message.data); };
      navigator.locks.request(viewer, function () {
        document.documentElement.setAttribute("data-live-leader", "");
        eventSource(first, function (message) { channel.postMessage(message); receive(message); });
        return new Promise(function () {});  // held until this tab goes; the next tab then takes over
      });
    } else {
      mode = "own-stream";
      eventSource(first, receive);
    }
    document.documentElement.setAttribute("data-live-mode", mode);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
