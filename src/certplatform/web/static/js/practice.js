// Practice pages: keyboard shortcuts, focus after HTMX swaps, and a plain-POST fallback.
// Everything here is an enhancement: every form also works without JavaScript.
(function () {
  "use strict";

  // Fields where keys are text, never shortcuts.
  var TEXT_INPUT = /^(text|search|email|number|password|tel|url|date|time|datetime-local|month|week)$/;

  function isTyping(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && TEXT_INPUT.test(el.type || "text");
  }

  function card() {
    return document.getElementById("practice-card");
  }

  // Move focus to what a swap or page load marks with data-focus (feedback heading, button).
  function focusMarked(root) {
    var el = (root || document).querySelector("[data-focus]");
    if (!el) return;
    el.removeAttribute("data-focus");
    el.focus();
  }

  // Shortcut hints are for a keyboard: a touch screen (coarse pointer, no hover) has none.
  var keyboardLikely = window.matchMedia("(hover: hover) and (pointer: fine)");

  function showHints(root) {
    if (!keyboardLikely.matches) return;
    (root || document).querySelectorAll("[data-kbd-hint]").forEach(function (hint) {
      hint.hidden = false;
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.isComposing || isTyping(event.target)) return;
    var box = card();
    if (!box) return;
    var form = box.querySelector("form[data-answer-form]");
    var target = event.target;

    if (form && /^[1-9]$/.test(event.key)) {
      var inputs = form.querySelectorAll("input[name=choice], input[name=value]");
      var input = inputs[Number(event.key) - 1];
      if (!input) return;
      event.preventDefault();
      input.checked = input.type === "checkbox" ? !input.checked : true;
      input.focus();
      input.dispatchEvent(new Event("change", { bubbles: true }));
      return;
    }
    if (form && event.key === "Enter" && !event.shiftKey) {
      // Buttons, links and other controls keep their own Enter.
      if (target.closest && target.closest("a, button, summary, [role=button]")) return;
      if (target !== document.body && !box.contains(target)) return;
      event.preventDefault();
      if (typeof form.requestSubmit === "function") form.requestSubmit();
      else form.submit();
      return;
    }
    if (event.code === "KeyN" || event.key === "n" || event.key === "N") {
      var next = box.querySelector("a[data-next]");
      if (!next) return;
      event.preventDefault();
      window.location.assign(next.href);
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    showHints(document);
    focusMarked(document);
  });

  // An error reply (expired session, CSRF, server error) is not swapped by HTMX: send the form
  // the plain way so the browser shows the full error page instead of doing nothing.
  function fallback(event) {
    var elt = event.detail && event.detail.elt;
    if (elt && elt.tagName === "FORM") {
      elt.removeAttribute("hx-post");
      HTMLFormElement.prototype.submit.call(elt);
    }
  }
  document.addEventListener("htmx:responseError", fallback);
  document.addEventListener("htmx:sendError", fallback);

  // Printing the wrong-answer note prints every answer and explanation, open or not.
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      d.open = true;
      openedForPrint.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (d) { d.open = false; });
    openedForPrint = [];
  });

  function ready() {
    showHints(document);
    focusMarked(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
