// The inbox by keyboard: j/k move the selected row, a accepts it, r opens the reject dialog,
// o opens the lead. The reject dialog posts with htmx and swaps the row; Enter submits it.
// The selection survives the list's polling (the row is found again by its lead id).
(function () {
  "use strict";
  if (window.__leadloopInbox) return; // the script may be included by more than one block
  window.__leadloopInbox = true;

  var selected = null; // the lead id of the selected row

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return el.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-inbox] tr[data-lead]"));
  }

  function current() {
    return document.querySelector("[data-inbox] tr[data-lead].is-selected");
  }

  function select(row, focus) {
    rows().forEach(function (r) {
      r.classList.remove("is-selected");
      r.removeAttribute("aria-current");
    });
    if (!row) {
      selected = null;
      return;
    }
    row.classList.add("is-selected");
    row.setAttribute("aria-current", "true");
    selected = row.getAttribute("data-lead");
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function restore() {
    var all = rows();
    var again = selected && all.filter(function (r) { return r.getAttribute("data-lead") === selected; })[0];
    select(again || all[0] || null, false);
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(current());
    var next = at < 0 ? 0 : Math.max(0, Math.min(all.length - 1, at + step));
    select(all[next], true);
  }

  // --- The reject dialog ----------------------------------------------------------------------

  var dialog = function () { return document.querySelector("[data-reject-dialog]"); };

  function openReject(button) {
    var box = dialog();
    if (!box) return;
    var row = button.closest("tr[data-lead]");
    var form = box.querySelector("[data-reject-form]");
    form.reset();
    form.setAttribute("action", button.getAttribute("data-url"));
    box.setAttribute("data-row", row.id);
    box.querySelector("[data-reject-name]").textContent = button.getAttribute("data-name") || "";
    select(row, false);
    box.showModal();
    var first = form.querySelector("input[name=reason]");
    if (first) first.focus();
  }

  function closeReject() {
    var box = dialog();
    if (box && box.open) box.close();
  }

  function submitReject(form) {
    var box = dialog();
    var rowId = box.getAttribute("data-row");
    if (!form.reportValidity()) return;
    var values = {};
    new FormData(form).forEach(function (value, key) { values[key] = value; });
    box.close();
    // The form as the source: the request carries the page's CSRF header (hx-headers).
    window.htmx.ajax("POST", form.getAttribute("action"), {
      source: form,
      target: "#" + rowId,
      swap: "outerHTML",
      values: values,
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-reject-form]");
    if (!form || !window.htmx) return;
    event.preventDefault();
    submitReject(form);
  });

  document.addEventListener("click", function (event) {
    var reject = event.target.closest("[data-reject]");
    if (reject) {
      openReject(reject);
      return;
    }
    if (event.target.closest("[data-dialog-close]")) {
      closeReject();
      return;
    }
    var row = event.target.closest("[data-inbox] tr[data-lead]");
    if (row && !event.target.closest("a, button, input, form")) select(row, true);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var box = dialog();
    if (box && box.open) {
      // Enter submits from any control of the dialog (radios included), not from its buttons.
      if (event.key === "Enter" && event.target.tagName !== "BUTTON" && event.target.tagName !== "TEXTAREA") {
        event.preventDefault();
        box.querySelector("[data-reject-form]").requestSubmit();
      }
      return;
    }
    if (isTyping(document.activeElement) || !document.querySelector("[data-inbox]")) return;
    var row = current();
    switch (event.key) {
      case "j":
        move(1);
        break;
      case "k":
        move(-1);
        break;
      case "a":
        if (row && row.querySelector("[data-accept]")) row.querySelector("[data-accept]").click();
        else return;
        break;
      case "r":
        if (row && row.querySelector("[data-reject]")) openReject(row.querySelector("[data-reject]"));
        else return;
        break;
      case "o":
        if (row && row.getAttribute("data-href")) window.location.assign(row.getAttribute("data-href"));
        else return;
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  // After a row or the whole list is swapped, select the same lead again (or the first row).
  document.addEventListener("htmx:afterSettle", function () {
    if (!document.querySelector("[data-inbox]")) return;
    restore();
    var row = current();
    var focus = document.activeElement;
    if (row && (!focus || focus === document.body)) row.focus({ preventScroll: true });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", restore);
  else restore();
})();
