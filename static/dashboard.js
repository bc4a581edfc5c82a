// Copy buttons beside every docker command. The Clipboard API needs a secure context (https or localhost);
// a classroom reaches the dashboard over plain http by IP, so fall back to selecting the text and execCommand.
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

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var code = button.parentElement.querySelector("[data-cli]");
    copyText(code.textContent).then(
      function () { flash(button, "Copied"); },
      function () { flash(button, "Select and copy"); }
    );
  });

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    setTimeout(function () { button.textContent = original; }, 1500);
  }
})();
