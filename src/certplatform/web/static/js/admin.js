// cert-platform back office: small enhancements over pages that work without script.
// - rows (choices, answers, sections...) can be added and removed
// - the question type shows only the answer fields it uses
// - "select all" on the question list
// - images upload in place and are inserted at the cursor of the question text
// - the CSV column map shows only for the CSV format
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("[data-add-row], [data-remove-row], [data-select-all]").forEach(function (el) {
      el.hidden = false;
    });
  }

  // ---- repeatable rows ------------------------------------------------------------------
  function addRow(kind) {
    var container = document.getElementById(kind + "-rows");
    var template = document.getElementById(kind + "-template");
    if (!container || !template) return;
    var next = Number(container.dataset.next || container.querySelectorAll(":scope > [data-row]").length);
    container.dataset.next = String(next + 1);
    var html = template.innerHTML
      .split("__i__").join("n" + next)
      .split("__n__").join(String(container.querySelectorAll(":scope > [data-row]").length + 1));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    container.appendChild(row);
    reveal(row);
    var first = row.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-add-row], [data-remove-row], [data-upload]");
    if (!target) return;
    if (target.hasAttribute("data-add-row")) {
      addRow(target.getAttribute("data-add-row"));
    } else if (target.hasAttribute("data-remove-row")) {
      var row = target.closest("[data-row]");
      var container = row.parentElement;
      var add = document.querySelector('[data-add-row="' + container.dataset.rows + '"]');
      row.remove();
      if (add) add.focus();
    } else if (target.hasAttribute("data-upload")) {
      event.preventDefault();
      upload(target);
    }
  });

  // ---- question type → answer fields --------------------------------------------------------
  function showForType(select) {
    var form = select.form;
    form.querySelectorAll("[data-types]").forEach(function (group) {
      var types = group.getAttribute("data-types").split(" ");
      group.hidden = types.indexOf(select.value) === -1;
    });
  }

  // ---- CSV column map only for CSV --------------------------------------------------------
  function showForFormat(select) {
    select.form.querySelectorAll("[data-csv-only]").forEach(function (el) {
      el.hidden = select.value !== "csv";
    });
  }

  // ---- import: the button waits for a dry run without errors -----------------------------
  // Ticking "skip invalid items" lifts the block the errors put on it; any other option
  // changes what the dry run showed, so the import waits for "Check again".
  function importOptionChanged(el) {
    var button = el.form && el.form.querySelector("[data-import-button]");
    if (!button || !el.closest("[data-import-options]")) return;
    if (el.name === "skip_invalid") {
      if (button.hasAttribute("data-has-errors") && !button.hasAttribute("data-stale")) {
        button.disabled = !el.checked;
      }
    } else {
      button.setAttribute("data-stale", "");
      button.disabled = true;
      var note = el.form.querySelector("[data-stale-note]");
      if (note) note.hidden = false;
    }
  }

  document.addEventListener("change", function (event) {
    var el = event.target;
    importOptionChanged(el);
    if (el.matches("[data-type-select]")) showForType(el);
    if (el.matches("[data-format-select]")) showForFormat(el);
    if (el.matches("[data-select-all]")) {
      var name = el.getAttribute("data-select-all");
      el.form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
        box.checked = el.checked;
      });
    }
  });

  // ---- image upload ---------------------------------------------------------------------
  function insertAtCursor(textarea, text) {
    var start = textarea.selectionStart || 0;
    var end = textarea.selectionEnd || 0;
    var before = textarea.value.slice(0, start);
    var after = textarea.value.slice(end);
    var pad = before && !/\n$/.test(before) ? "\n" : "";
    textarea.value = before + pad + text + "\n" + after;
    var caret = (before + pad + text + "\n").length;
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function upload(button) {
    var form = button.form;
    var status = document.getElementById("upload-status");
    var file = form.querySelector('input[name="image"]');
    var say = function (text, bad) {
      status.textContent = text;
      status.classList.toggle("is-error", Boolean(bad));
    };
    if (!file.files.length) {
      say(button.dataset.noFile, true);
      file.focus();
      return;
    }
    var data = new FormData();
    data.append("csrf_token", form.querySelector('input[name="csrf_token"]').value);
    data.append("certification", (form.querySelector('[name="certification"]') || {}).value || "");
    data.append("image", file.files[0]);
    data.append("image_alt", form.querySelector('input[name="image_alt"]').value);
    button.disabled = true;
    fetch("/admin/media", {
      method: "POST",
      body: data,
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then(function (reply) {
        return reply.json().catch(function () {
          return { error: reply.statusText || String(reply.status) };
        });
      })
      .then(function (body) {
        if (body.markdown) {
          var stem = form.querySelector('textarea[name="stem"]');
          insertAtCursor(stem, body.markdown);
          file.value = "";
          say(body.markdown, false);
          stem.focus();
        } else {
          say(body.error || button.dataset.failed, true);
        }
      })
      .catch(function () {
        say(button.dataset.failed, true);
      })
      .finally(function () {
        button.disabled = false;
      });
  }

  // ---- start -----------------------------------------------------------------------------
  function start() {
    reveal(document);
    document.querySelectorAll("[data-rows]").forEach(function (container) {
      container.dataset.next = String(container.querySelectorAll(":scope > [data-row]").length);
    });
    document.querySelectorAll("[data-type-select]").forEach(showForType);
    document.querySelectorAll("[data-format-select]").forEach(showForFormat);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
