// The agreement editor: add, move and remove rows (threshold groups, hand-raisers, routing
// rules and their reps, reasons); show only the inputs a rule's kind, a reason's action and the
// hand-off mode use. Inputs are named <list>-<n>-<field> (reps: rule-<n>-rep-<m>-<field>) in
// the order shown, so the server reads the rows in order.
(function () {
  "use strict";
  var editor = document.querySelector("[data-agreement-editor]");
  if (!editor) return;

  function rowsOf(list) {
    return Array.prototype.filter.call(list.children, function (el) { return el.hasAttribute("data-row"); });
  }

  function renumber() {
    // Outer lists come first in document order, so a rule's prefix is set before its reps'.
    Array.prototype.forEach.call(editor.querySelectorAll("[data-list]"), function (list) {
      var kind = list.getAttribute("data-list");
      var pattern = kind === "rep" ? /-rep-(\d+|__j__)-/ : new RegExp("^" + kind + "-(\\d+|__i__)-");
      rowsOf(list).forEach(function (row, n) {
        var replacement = kind === "rep" ? "-rep-" + n + "-" : kind + "-" + n + "-";
        Array.prototype.forEach.call(row.querySelectorAll("[name], [id], label[for]"), function (node) {
          ["name", "id", "for"].forEach(function (attr) {
            var value = node.getAttribute(attr);
            if (value && pattern.test(value)) node.setAttribute(attr, value.replace(pattern, replacement));
          });
        });
        var num = row.querySelector("[data-row-num]");
        if (num && num.closest("[data-row]") === row) num.textContent = n + 1;
        var up = row.querySelector("[data-move=up]");
        var down = row.querySelector("[data-move=down]");
        if (up && up.closest("[data-row]") === row) up.disabled = n === 0;
        if (down && down.closest("[data-row]") === row) down.disabled = n === rowsOf(list).length - 1;
      });
    });
  }

  function showFor(scope, attribute, value) {
    Array.prototype.forEach.call(scope.querySelectorAll("[" + attribute + "]"), function (node) {
      node.hidden = node.getAttribute(attribute).split(" ").indexOf(value) < 0;
    });
  }

  function syncRule(row) {
    var kind = row.querySelector("[data-rule-kind]");
    if (kind) showFor(row, "data-for-kind", kind.value);
  }

  function syncReason(row) {
    var action = row.querySelector("[data-reason-action]");
    if (action) showFor(row, "data-for-action", action.value);
  }

  function syncHandoff() {
    var chosen = editor.querySelector("[data-handoff-mode]:checked");
    showFor(editor, "data-for-mode", chosen ? chosen.value : "instant");
  }

  function firstInput(row) {
    return row.querySelector("input:not([type=hidden]):not([hidden]), select");
  }

  editor.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add]");
    if (add) {
      var kind = add.getAttribute("data-add");
      var wrap = add.closest("[data-list-wrap='" + kind + "']");
      var list = wrap.querySelector("[data-list='" + kind + "']");
      var template = editor.querySelector("template[data-template='" + kind + "']");
      list.appendChild(template.content.cloneNode(true));
      renumber();
      var row = rowsOf(list).pop();
      if (kind === "rule") syncRule(row);
      if (kind === "reason") syncReason(row);
      var focus = firstInput(row);
      if (focus) focus.focus();
      return;
    }
    var move = event.target.closest("[data-move]");
    if (move) {
      var moving = move.closest("[data-row]");
      var up = move.getAttribute("data-move") === "up";
      var other = up ? moving.previousElementSibling : moving.nextElementSibling;
      if (other) moving.parentNode.insertBefore(moving, up ? other : other.nextElementSibling);
      renumber();
      var again = moving.querySelector("[data-move=" + (up ? "up" : "down") + "]");
      (again.disabled ? moving.querySelector("[data-move=" + (up ? "down" : "up") + "]") : again).focus();
      return;
    }
    var remove = event.target.closest("[data-remove]");
    if (remove) {
      var gone = remove.closest("[data-row]");
      var listOf = gone.parentNode;
      var next = gone.nextElementSibling || gone.previousElementSibling;
      gone.remove();
      renumber();
      var target = next ? firstInput(next) : null;
      if (!target) {
        var wrapOf = listOf.closest("[data-list-wrap]");
        target = wrapOf ? wrapOf.querySelector("[data-add]") : null;
      }
      if (target) target.focus();
    }
  });

  editor.addEventListener("change", function (event) {
    if (event.target.matches("[data-rule-kind]")) syncRule(event.target.closest("[data-row]"));
    if (event.target.matches("[data-reason-action]")) syncReason(event.target.closest("[data-row]"));
    if (event.target.matches("[data-handoff-mode]")) syncHandoff();
  });

  renumber();
  syncHandoff();
})();
