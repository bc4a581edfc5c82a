// The page's own script (no inline script: the Content-Security-Policy forbids it).
// 1. Copy buttons beside every docker command. The Clipboard API needs a secure context (https or localhost);
//    a classroom reaches the dashboard over plain http by IP, so fall back to selecting the text and execCommand.
// 2. The lesson's active step, worked out from what the page shows (each step's check and latest run), so it
//    stands out on the projector.
// 3. One polite announcement when the steps done, the number of containers or the build's state change, rather
//    than the screen reader reading every refreshed list.
// 4. On the presenter view, the active step kept in view as the page changes, until the presenter
//    scrolls by hand: from then on the page stays where they put it.
// 5. Live lists that stay live: an error answering a poll shows beside the list instead of replacing it (which
//    would end its polling), and clears when a later poll succeeds.
// 6. A running step's output kept scrolled to its latest line as it grows.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = document.execCommand("copy");
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    setTimeout(function () { button.textContent = original; }, 1500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var code = button.parentElement.querySelector("[data-cli]");
    copyText(code.textContent).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Select and copy"); }
    );
  });

  // Each step's status (its latest run and check) is swapped in by the board; its section carries the same
  // data-check and data-done, for the page's hooks and for working out the active step.
  function syncSteps() {
    document.querySelectorAll("[data-status-of]").forEach(function (status) {
      var section = document.getElementById("step-" + status.dataset.statusOf);
      if (!section) return;
      if (status.dataset.check) section.dataset.check = status.dataset.check;
      if (status.dataset.check === "failed") section.dataset.seenFailing = "true";
      if (status.dataset.done) section.dataset.done = status.dataset.done;
      else delete section.dataset.done;
    });
  }

  // Which steps are done (checked, or run), in order. A check that something is not there (gone, empty,
  // volume_gone: data-check-absence) also passes before the thing was ever made: it counts only once the step
  // before it is done, or once this page saw it fail (the thing was there), so a lesson not begun does not start
  // at its clean-up step. A check marked `after_previous` in its lesson (what it looks at is there once an earlier
  // step is done) carries data-check-absence too, and counts the same way.
  function doneSteps(steps) {
    var previous = true;
    return steps.map(function (section) {
      var passed = section.dataset.check === "passed" &&
        (section.dataset.checkAbsence !== "true" || previous || section.dataset.seenFailing === "true");
      previous = passed || section.dataset.done === "true";
      return previous;
    });
  }

  // The active step: the build (or a long step) while it runs; else the step after the last one done, so the
  // projector moves on as the lesson does and does not jump back when a later step undoes an earlier one's effect.
  function activeStep(steps, done) {
    var building = document.querySelector("#build-panel .build-live, [data-status-of][data-running]");
    if (building) return building.closest("section.step");
    var last = done.lastIndexOf(true);
    return steps[Math.min(last + 1, steps.length - 1)] || null;
  }

  function lessonState() {
    syncSteps();
    var steps = Array.prototype.slice.call(document.querySelectorAll("section.step[data-step]"));
    var doneList = doneSteps(steps);
    var active = activeStep(steps, doneList);
    var building = document.querySelector("#build-panel .build-live") !== null;
    var containers = document.querySelectorAll("#containers [data-container-id]").length;
    var done = doneList.filter(Boolean).length;
    var summary = building ? "The image is building." :
      done + " of " + steps.length + " steps done; " +
      (containers === 1 ? "1 container." : containers + " containers.");
    return { step: active ? active.dataset.step : null, summary: summary };
  }

  var lastState = null;

  function showLessonState() {
    var state = lessonState();
    document.querySelectorAll("section[data-step]").forEach(function (section) {
      section.classList.toggle("active", section.dataset.step === state.step);
    });
    if (lastState !== null && state.summary !== lastState.summary) {
      document.getElementById("announce").textContent = state.summary;
    }
    // After every change shown (not only a change of step: a build can end before the page sees it run, and a
    // panel that grows above the active step pushes it down), "nearest" leaves a step already in view alone.
    if (lastState !== null) {
      followLesson();
    }
    lastState = state;
  }

  var scrolledByHand = false;
  var SCROLL_KEYS = ["PageUp", "PageDown", "Home", "End", "ArrowUp", "ArrowDown", " "];

  function noteScrollByHand(event) {
    // Keys count only where they scroll: typing a port, or Space and Enter on a button, is not scrolling.
    if (event.type === "keydown" && (SCROLL_KEYS.indexOf(event.key) < 0 ||
        event.target.closest("input, textarea, select, button, [contenteditable]"))) return;
    scrolledByHand = true;
  }

  function followLesson() {
    var active = document.querySelector("section.step.active");
    if (!active || scrolledByHand || !document.body.classList.contains("presenter")) return;
    var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    // "nearest": a step already on screen stays put; one taller than the screen shows from its top.
    active.scrollIntoView({ block: "nearest", behavior: still ? "auto" : "smooth" });
  }

  ["wheel", "touchmove", "keydown"].forEach(function (type) {
    document.addEventListener(type, noteScrollByHand, { passive: true });
  });

  function pollErrorLine(poller) {
    var id = poller.id + "-error";
    var line = document.getElementById(id);
    if (!line && poller.isConnected) {
      line = document.createElement("p");
      line.id = id;
      line.className = "poll-error";
      line.setAttribute("role", "status");
      poller.parentNode.insertBefore(line, poller);
    }
    return line;
  }

  function showPollError(poller, text) {
    var line = pollErrorLine(poller);
    if (line && line.textContent !== text) line.textContent = text;  // unchanged: not announced again
  }

  function answerText(xhr) {
    var page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    return page.body.textContent.replace(/\s+/g, " ").trim() || "the dashboard answered " + xhr.status + ".";
  }

  function isPoller(element) {
    return element instanceof Element && element.hasAttribute("data-poll");
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (!isPoller(detail.target) || detail.xhr.status < 400) return;
    detail.shouldSwap = false;
    detail.isError = false;  // handled here: not logged as an htmx error, and the poller keeps its timer
    // A poll tries again by itself; an action aimed at the list (the transcript's Clear) does not.
    var again = detail.requestConfig && detail.requestConfig.verb === "get" ? " Trying again." : "";
    showPollError(detail.target, "Not updated (HTTP " + detail.xhr.status + "): " + answerText(detail.xhr) + again);
  });

  document.addEventListener("htmx:sendError", function (event) {
    if (isPoller(event.detail.target)) {
      showPollError(event.detail.target, "Not updated: the dashboard does not answer. Trying again.");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail;
    if (isPoller(detail.target) && detail.xhr && detail.xhr.status >= 200 && detail.xhr.status < 400) {
      showPollError(detail.target, "");
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(pollErrorLine);  // live regions exist before they speak
    showLessonState();
  });
  document.addEventListener("htmx:afterSettle", showLessonState);

  // A running step's output, swapped in anew as it grows, shows its latest lines, as a terminal does.
  function followOutputs() {
    document.querySelectorAll("pre[data-follow]").forEach(function (pre) { pre.scrollTop = pre.scrollHeight; });
  }
  document.addEventListener("DOMContentLoaded", followOutputs);
  document.addEventListener("htmx:afterSettle", followOutputs);
})();
