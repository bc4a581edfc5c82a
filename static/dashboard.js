// The page's own script (no inline script: the Content-Security-Policy forbids it).
// 1. Copy buttons beside every docker command. The Clipboard API needs a secure context (https or localhost);
//    a classroom reaches the dashboard over plain http by IP, so fall back to selecting the text and execCommand.
// 2. The lesson's active step, worked out from what the page shows, so it stands out on the projector.
// 3. One polite announcement when the number of containers or the build's state changes, rather than the
//    screen reader reading every refreshed list.
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

  function lessonState() {
    var building = document.querySelector("#build-panel .build-live") !== null;
    var built = document.querySelector("#build-panel [data-image-id]") !== null;
    var containers = document.querySelectorAll("#containers [data-container-id]").length;
    var step = building || !built ? "1" : containers ? "3" : "2";
    var summary = building ? "The image is building." :
      containers === 1 ? "1 tutorial container." : containers + " tutorial containers.";
    return { step: step, summary: summary };
  }

  var lastSummary = null;

  function showLessonState() {
    var state = lessonState();
    document.querySelectorAll("section[data-step]").forEach(function (section) {
      section.classList.toggle("active", section.dataset.step === state.step);
    });
    if (lastSummary !== null && state.summary !== lastSummary) {
      document.getElementById("announce").textContent = state.summary;
    }
    lastSummary = state.summary;
  }

  document.addEventListener("DOMContentLoaded", showLessonState);
  document.addEventListener("htmx:afterSettle", showLessonState);
})();
