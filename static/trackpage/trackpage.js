// Small enhancements of the tracking page; everything works without JavaScript.
(function () {
  "use strict";

  // A "Copy" button next to each tracking number.
  function addCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy]").forEach(function (el) {
      if (el.dataset.copyReady) return;
      el.dataset.copyReady = "1";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = document.documentElement.lang === "ja" ? "コピー" : "Copy";
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(el.textContent.trim()).then(function () {
          button.textContent = document.documentElement.lang === "ja" ? "コピーしました" : "Copied";
        });
      });
      el.after(button);
    });
  }

  // Poll only while the page is visible: htmx checks this before each refresh.
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.visibilityState === "hidden") event.preventDefault();
  });
  document.addEventListener("htmx:afterSwap", function (event) { addCopyButtons(event.target); });
  document.addEventListener("DOMContentLoaded", function () { addCopyButtons(document); });
})();
