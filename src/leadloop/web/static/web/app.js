// Leadloop's small behaviours: "/" focuses the search, the phone nav toggle, copy, confirm.
(function () {
  "use strict";

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(document.activeElement)) {
      var search = document.getElementById("global-q");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    }
    // Arrow keys move between the search box and its quick results.
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      var box = document.getElementById("quick-results");
      if (box && box.parentElement.contains(document.activeElement)) {
        var links = Array.prototype.slice.call(box.querySelectorAll("a"));
        if (links.length) {
          var at = links.indexOf(document.activeElement);
          var next = event.key === "ArrowDown" ? at + 1 : at - 1;
          event.preventDefault();
          if (next < 0) document.getElementById("global-q").focus();
          else links[Math.min(next, links.length - 1)].focus();
        }
      }
    }
    if (event.key === "Escape") {
      var results = document.getElementById("quick-results");
      if (results && results.innerHTML.trim() !== "" && results.parentElement.contains(document.activeElement)) {
        results.innerHTML = "";
        document.getElementById("global-q").focus();
      }
    }
  });

  // Close the quick results when focus or a click leaves the search.
  document.addEventListener("click", function (event) {
    var form = document.querySelector("[data-global-search]");
    var results = document.getElementById("quick-results");
    if (form && results && !form.contains(event.target)) results.innerHTML = "";
  });

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = nav.classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) {
        var first = nav.querySelector("a");
        if (first) first.focus();
      }
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      source.select();
      var done = function () { copy.textContent = "Copied"; };
      if (navigator.clipboard) navigator.clipboard.writeText(source.value).then(done, function () { document.execCommand("copy"); done(); });
      else { document.execCommand("copy"); done(); }
    }
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
