/* Leadloop form embed. Paste where the form should appear:
 *   <div data-leadloop-form="SLUG"></div><script src="https://LEADLOOP/f/SLUG/embed.js" async></script>
 * Draws the form into the div, posts it as JSON with this page's URL and referrer (so the
 * lead's touch gets this page's UTM parameters), then shows the thank-you message in place
 * or goes to the form's redirect URL. Restyle with --llf-accent, --llf-radius on the div. */
(function () {
  "use strict";
  var def = {{ definition|safe }};
  var STYLE_ID = "leadloop-form-style";
  var CSS = [
    ".llf-form{display:flex;flex-direction:column;gap:16px;font:inherit;color:inherit;max-width:560px}",
    ".llf-field{display:flex;flex-direction:column;gap:6px}",
    ".llf-label{font-weight:600;font-size:.92em}",
    ".llf-req{color:#b91c1c}",
    ".llf-form input:not([type=checkbox]),.llf-form select,.llf-form textarea{box-sizing:border-box;width:100%;min-height:42px;padding:9px 12px;border:1px solid #cfd6e1;border-radius:var(--llf-radius,8px);background:#fff;color:#111827;font:inherit}",
    ".llf-form textarea{min-height:96px;resize:vertical}",
    ".llf-form input:focus,.llf-form select:focus,.llf-form textarea:focus{outline:3px solid rgba(79,70,229,.25);outline-offset:0;border-color:var(--llf-accent,#4f46e5)}",
    ".llf-form [aria-invalid=true]{border-color:#b91c1c}",
    ".llf-check{display:flex;align-items:flex-start;gap:10px;cursor:pointer;font-size:.95em}",
    ".llf-check input{flex:none;width:18px;height:18px;margin:2px 0 0;accent-color:var(--llf-accent,#4f46e5)}",
    ".llf-error{margin:0;color:#b91c1c;font-size:.88em;font-weight:500}",
    ".llf-status:empty{display:none}.llf-status{margin:0;padding:10px 14px;border-radius:var(--llf-radius,8px);background:#fef2f2;color:#7f1d1d}",
    ".llf-submit{align-self:flex-start;min-height:46px;padding:0 24px;border:0;border-radius:var(--llf-radius,8px);background:var(--llf-accent,#4f46e5);color:#fff;font:inherit;font-weight:650;cursor:pointer}",
    ".llf-submit[disabled]{opacity:.7;cursor:progress}",
    ".llf-hp{position:absolute!important;left:-10000px;width:1px;height:1px;overflow:hidden}",
    ".llf-done{padding:20px;border-radius:var(--llf-radius,8px);background:#ecfdf5;color:#065f46;font-weight:500}"
  ].join("");
  var counter = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs) if (attrs[key] !== null && attrs[key] !== false) node.setAttribute(key, attrs[key] === true ? "" : attrs[key]);
    if (text) node.textContent = text;
    return node;
  }

  function label(forId, text, required, cls) {
    var node = el("label", {"for": forId, "class": cls});
    node.appendChild(document.createTextNode(text));
    if (required) { node.appendChild(document.createTextNode(" ")); node.appendChild(el("span", {"class": "llf-req", "aria-hidden": "true"}, "*")); }
    return node;
  }

  function control(field, id) {
    var common = {id: id, name: field.name, required: field.required, autocomplete: field.autocomplete || null};
    if (field.type === "textarea") return el("textarea", common);
    if (field.type === "select") {
      var select = el("select", common);
      select.appendChild(el("option", {value: ""}, "Please choose\u2026"));
      field.choices.forEach(function (c) { select.appendChild(el("option", {value: c[0]}, c[1])); });
      return select;
    }
    common.type = field.type === "checkbox" ? "checkbox" : field.type;
    if (field.type === "number") common.step = "any";
    return el("input", common);
  }

  function checkbox(id, name, text, required) {
    var wrap = el("div", {"class": "llf-field llf-field--check", "data-field": name});
    var box = el("input", {id: id, name: name, type: "checkbox", value: "on", required: required});
    var lab = label(id, "", false, "llf-check");
    lab.textContent = "";
    lab.appendChild(box);
    var span = el("span", {}, text);
    if (required) { span.appendChild(document.createTextNode(" ")); span.appendChild(el("span", {"class": "llf-req", "aria-hidden": "true"}, "*")); }
    lab.appendChild(span);
    wrap.appendChild(lab);
    return wrap;
  }

  function render(host) {
    if (host.getAttribute("data-leadloop-ready")) return;
    host.setAttribute("data-leadloop-ready", "1");
    var uid = "llf-" + def.slug + "-" + (++counter);
    var form = el("form", {"class": "llf-form", novalidate: true});
    var hp = el("div", {"class": "llf-hp", "aria-hidden": "true"});
    hp.appendChild(label(uid + "-hp", "Leave this empty", false, null));
    hp.appendChild(el("input", {id: uid + "-hp", name: def.honeypot, type: "text", tabindex: "-1", autocomplete: "off"}));
    form.appendChild(hp);
    def.fields.forEach(function (field) {
      var id = uid + "-" + field.name;
      if (field.type === "checkbox") { form.appendChild(checkbox(id, field.name, field.label, field.required)); return; }
      var wrap = el("div", {"class": "llf-field", "data-field": field.name});
      wrap.appendChild(label(id, field.label, field.required, "llf-label"));
      wrap.appendChild(control(field, id));
      form.appendChild(wrap);
    });
    if (def.consent) form.appendChild(checkbox(uid + "-consent", "consent", def.consent.text, def.consent.required));
    var status = el("p", {"class": "llf-status", role: "alert"});
    form.appendChild(status);
    var button = el("button", {"class": "llf-submit", type: "submit"}, def.submit_label);
    form.appendChild(button);
    form.addEventListener("submit", function (event) { event.preventDefault(); send(form, host, button, status); });
    while (host.firstChild) host.removeChild(host.firstChild);
    host.appendChild(form);
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".llf-error"), function (n) { n.parentNode.removeChild(n); });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (n) { n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
  }

  function showErrors(form, detail) {
    var first = null, general = [];
    detail.forEach(function (item) {
      var name = item.loc && item.loc[0] === "fields" ? item.loc[1] : null;
      var wrap = name ? form.querySelector('[data-field="' + String(name).replace(/"/g, "") + '"]') : null;
      if (!wrap) { general.push(item.msg); return; }
      var input = wrap.querySelector("input,select,textarea");
      var msg = el("p", {"class": "llf-error", id: input.id + "-error"}, item.msg);
      wrap.appendChild(msg);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", msg.id);
      if (!first) first = input;
    });
    if (first) first.focus();
    return general.join(" ");
  }

  function send(form, host, button, status) {
    clearErrors(form);
    status.textContent = "";
    var values = {}, body = {page_url: window.location.href, referrer: document.referrer};
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name) return;
      var value = input.type === "checkbox" ? input.checked : input.value;
      if (input.name === "consent" || input.name === def.honeypot) body[input.name] = value;
      else values[input.name] = value;
    });
    body.fields = values;
    var label = button.textContent;
    button.disabled = true;
    button.textContent = "Sending\u2026";
    function done() { button.disabled = false; button.textContent = label; }
    fetch(def.action, {
      method: "POST", mode: "cors", credentials: "omit",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return {status: response.status, data: data}; },
                                  function () { return {status: response.status, data: null}; });
    }).then(function (result) {
      var data = result.data || {};
      if (result.status === 200 && data.ok) {
        if (data.redirect) { window.location.assign(data.redirect); return; }
        var message = el("div", {"class": "llf-done", role: "status", tabindex: "-1"}, data.message);
        host.replaceChild(message, form);
        message.focus();
        return;
      }
      done();
      var general = data.detail ? showErrors(form, data.detail) : "";
      if (general || !data.detail) status.textContent = general || "The form could not be sent (error " + result.status + "). Please try again.";
    }, function () {
      done();
      status.textContent = "The form could not be sent. Check your connection and try again.";
    });
  }

  function start() {
    if (!document.getElementById(STYLE_ID)) {
      var style = el("style", {id: STYLE_ID}, CSS);
      document.head.appendChild(style);
    }
    Array.prototype.forEach.call(document.querySelectorAll('[data-leadloop-form="' + def.slug + '"]'), render);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
