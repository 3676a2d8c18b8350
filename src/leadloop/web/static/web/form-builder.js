// The form builder: add, move and remove field rows; names follow labels until edited.
(function () {
  "use strict";
  var builder = document.querySelector("[data-form-builder]");
  if (!builder) return;
  var list = builder.querySelector("[data-rows]");
  var template = builder.querySelector("[data-row-template]");

  function snake(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^[0-9_]+/, "").slice(0, 50);
  }
  function slug(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 100);
  }

  // Inputs are named f-<n>-<column> in the order shown, so the server reads rows in order.
  function renumber() {
    Array.prototype.forEach.call(list.querySelectorAll("[data-row]"), function (row, n) {
      row.querySelector("[data-row-num]").textContent = n + 1;
      Array.prototype.forEach.call(row.querySelectorAll("[name], [id], label[for]"), function (node) {
        ["name", "id", "for"].forEach(function (attr) {
          var value = node.getAttribute(attr);
          if (value && /^f-(\d+|__i__)-/.test(value)) node.setAttribute(attr, value.replace(/^f-(\d+|__i__)-/, "f-" + n + "-"));
        });
      });
      row.querySelector("[data-move=up]").disabled = n === 0;
      row.querySelector("[data-move=down]").disabled = !row.nextElementSibling;
    });
  }

  function sync(row) {
    var type = row.querySelector("[data-row-type]").value;
    var maps = row.querySelector("[data-row-maps]").value;
    row.querySelector("[data-row-choices]").hidden = type !== "select";
    row.querySelector("[data-row-attribute]").hidden = maps !== "attributes";
  }

  builder.querySelector("[data-add-row]").addEventListener("click", function () {
    list.appendChild(template.content.cloneNode(true));
    renumber();
    var row = list.lastElementChild;
    sync(row);
    row.querySelector("[data-row-label]").focus();
  });

  list.addEventListener("click", function (event) {
    var row = event.target.closest("[data-row]");
    if (!row) return;
    var move = event.target.closest("[data-move]");
    if (move) {
      var up = move.getAttribute("data-move") === "up";
      var other = up ? row.previousElementSibling : row.nextElementSibling;
      if (other) list.insertBefore(row, up ? other : other.nextElementSibling);
      renumber();
      var again = row.querySelector("[data-move=" + (up ? "up" : "down") + "]");
      (again.disabled ? row.querySelector("[data-move=" + (up ? "down" : "up") + "]") : again).focus();
    }
    if (event.target.closest("[data-remove]")) {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      (next ? next.querySelector("[data-row-label]") : builder.querySelector("[data-add-row]")).focus();
    }
  });

  list.addEventListener("input", function (event) {
    var row = event.target.closest("[data-row]");
    if (!row) return;
    var name = row.querySelector("[data-row-name]");
    if (event.target === name) name.setAttribute("data-touched", "");
    if (event.target.hasAttribute("data-row-label") && !name.hasAttribute("data-touched")) name.value = snake(event.target.value);
  });
  list.addEventListener("change", function (event) {
    var row = event.target.closest("[data-row]");
    if (row) sync(row);
  });

  var nameInput = builder.querySelector("[data-form-name]");
  var slugInput = builder.querySelector("[data-form-slug]");
  var preview = builder.querySelector("[data-slug-preview]");
  nameInput.addEventListener("input", function () {
    if (!slugInput.hasAttribute("data-touched")) slugInput.value = slug(nameInput.value);
    preview.textContent = slugInput.value || "…";
  });
  slugInput.addEventListener("input", function () {
    slugInput.setAttribute("data-touched", "");
    preview.textContent = slugInput.value || "…";
  });
  renumber();
})();
