// A seat's terminal (templates/terminal.html): xterm.js over the WebSocket its data-terminal-socket names. Binary
// frames carry the keys and the screen's bytes; text frames {"resize": [cols, rows]} go out as the screen fits its
// box, {"control": who} and {"exit": message} come in. A dropped socket reconnects with backoff (the shell is
// kept, and its recent output comes back first); a close with a reason (signed out, the class ended, a limit)
// says so and offers "Connect again". On the student's page the box opens by itself on laptop widths only.
(function () {
  "use strict";

  var nonce = document.currentScript && document.currentScript.nonce;
  var WIDE = "(min-width: 48rem)";
  var FINAL = [1000, 1003, 1008];  // closes with a reason that a reconnect would not change
  var FIRST_DELAY = 500, MAX_DELAY = 15000;

  // xterm.js styles its screen with <style> elements, which this page's CSP allows only with its nonce.
  function withNonce(make) {
    var create = document.createElement;
    document.createElement = function (tag, options) {
      var element = create.call(document, tag, options);
      if (nonce && String(tag).toLowerCase() === "style") {
        element.setAttribute("nonce", nonce);
      }
      return element;
    };
    try {
      return make();
    } finally {
      document.createElement = create;
    }
  }

  function start(box) {
    var role = box.dataset.terminalRole;
    var status = box.querySelector("[data-terminal-status]");
    var banner = box.querySelector("[data-terminal-banner]");
    var take = box.querySelector("[data-terminal-take]");
    var again = box.querySelector("[data-terminal-connect]");
    var fit = new FitAddon.FitAddon();
    var term = withNonce(function () {
      var made = new Terminal({cursorBlink: true, fontSize: 14, scrollback: 5000,
                               theme: {background: "#15202b", foreground: "#e8f1f8"}});
      made.loadAddon(fit);
      made.open(box.querySelector("[data-terminal-screen]"));
      return made;
    });
    var socket = null, delay = FIRST_DELAY, timer = null, control = "student", leaving = false;
    var encoder = new TextEncoder();

    function say(text) { status.textContent = text; box.dataset.terminalState = text.split(/[:.…]/)[0]; }
    function open() { return socket !== null && socket.readyState === WebSocket.OPEN; }
    function mayType() { return control === role; }

    function sendSize() {
      if (open() && mayType()) socket.send(JSON.stringify({resize: [term.cols, term.rows]}));
    }

    function fitNow() {
      if (box.open && box.offsetParent !== null) fit.fit();  // fit() measures: not while folded away
    }

    function showControl(who) {
      control = who;
      term.options.disableStdin = !mayType();
      if (banner) banner.hidden = who !== "instructor";
      if (take) take.textContent = who === "instructor" ? "Give back" : "Take over";
      if (role === "instructor") say(who === "instructor" ? "Connected: you are typing in the seat's terminal." :
                                     "Connected, read-only: the student types.");
      sendSize();
    }

    function connect() {
      clearTimeout(timer);
      again.hidden = true;
      var address = new URL(box.dataset.terminalSocket, window.location.href);
      address.protocol = address.protocol === "https:" ? "wss:" : "ws:";
      say("Connecting…");
      socket = new WebSocket(address.href);
      socket.binaryType = "arraybuffer";
      socket.onopen = function () {
        delay = FIRST_DELAY;
        term.reset();  // the shell's recent output comes first: the screen starts over from it
        say("Connected.");
        fitNow();
        sendSize();
      };
      socket.onmessage = function (event) {
        if (typeof event.data !== "string") {
          term.write(new Uint8Array(event.data));
          return;
        }
        var message = JSON.parse(event.data);
        if (message.control) showControl(message.control);
        if (message.exit) term.write("\r\n[" + message.exit + "]\r\n");
      };
      socket.onclose = function (event) {
        socket = null;
        if (leaving) return;
        if (FINAL.indexOf(event.code) >= 0) {
          say("Closed: " + (event.reason || "the server ended the connection."));
          again.hidden = false;
          return;
        }
        say("Reconnecting in " + Math.round(delay / 1000) + " s… (" + (event.reason || "the connection dropped") + ")");
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, MAX_DELAY);
      };
    }

    term.onData(function (data) { if (open() && mayType()) socket.send(encoder.encode(data)); });
    term.onBinary(function (data) {
      if (!open() || !mayType()) return;
      var bytes = new Uint8Array(data.length);
      for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 255;
      socket.send(bytes);
    });
    term.onResize(sendSize);
    window.addEventListener("resize", fitNow);
    if (window.ResizeObserver) new ResizeObserver(fitNow).observe(box.querySelector("[data-terminal-screen]"));
    box.addEventListener("toggle", function () { if (box.open) { fitNow(); term.focus(); } });
    window.addEventListener("pagehide", function () { leaving = true; if (socket) socket.close(); });
    again.addEventListener("click", function () { delay = FIRST_DELAY; connect(); });
    if (take) {
      take.addEventListener("click", function () {
        if (open()) socket.send(JSON.stringify({control: control === "instructor" ? "student" : "instructor"}));
      });
    }
    connect();
  }

  function init() {
    document.querySelectorAll("details[data-terminal]").forEach(function (box) {
      if (box.hasAttribute("data-terminal-open-wide") && window.matchMedia(WIDE).matches) box.open = true;
      if (box.open) {
        start(box);
        return;
      }
      box.addEventListener("toggle", function first() {  // a phone's: no shell until the student unfolds it
        box.removeEventListener("toggle", first);
        start(box);
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
