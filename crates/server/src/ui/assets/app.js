// Progressive enhancement only: every page works without this file.
// Sends the CSRF token of the page's first form with every htmx request.
document.addEventListener("htmx:configRequest", function (event) {
  var field = document.querySelector("input[name=csrf]");
  if (field) {
    event.detail.headers["X-CSRF-Token"] = field.value;
  }
});
// Asks before leaving the editor with unsaved changes.
document.addEventListener("DOMContentLoaded", function () {
  var editor = document.querySelector("textarea[data-guard-unsaved]");
  if (!editor) return;
  var initial = editor.value;
  var submitting = false;
  editor.form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (e) {
    if (!submitting && editor.value !== initial) { e.preventDefault(); }
  });
});
