// The one live stream of this browser (a SharedWorker, one per viewer): it holds the EventSource of /live and
// relays each nudge to every tab that connected, so an instructor's tenth tab costs no connection of its own.
"use strict";

var ports = [];
var source = null;
var lastId = "";

function tell(message) {
  ports.forEach(function (port) { port.postMessage(message); });
}

function open(url) {
  if (source) return;
  source = new EventSource(lastId ? url.split("?")[0] + "?since=" + encodeURIComponent(lastId) : url);
  source.addEventListener("changed", function (event) {
    if (event.lastEventId) lastId = event.lastEventId;
    tell({type: "changed", topics: event.data.split(" ")});
  });
  source.addEventListener("close", function (event) {
    source.close();
    source = null;
    tell({type: "close", reason: event.data});
  });
  source.onerror = function () {
    if (source && source.readyState === EventSource.CLOSED) {  // refused (not a drop, which reconnects by itself)
      source = null;
      setTimeout(function () { if (ports.length) open(url); }, 5000);
    }
  };
}

onconnect = function (event) {
  var port = event.ports[0];
  ports.push(port);
  port.onmessage = function (message) {
    if (message.data.open) open(message.data.open);
    if (message.data.bye) {
      ports = ports.filter(function (other) { return other !== port; });
      if (!ports.length && source) { source.close(); source = null; }
    }
  };
  port.start();
};
