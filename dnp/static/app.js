// Small progressive enhancements; everything works without them except the progress bar.
document.addEventListener("htmx:beforeRequest", function () {
  document.body.classList.add("is-loading");
});
document.addEventListener("htmx:afterRequest", function () {
  document.body.classList.remove("is-loading");
});
document.addEventListener("htmx:responseError", function (event) {
  var status = document.getElementById("status");
  if (status) {
    status.textContent = "Något gick fel (" + event.detail.xhr.status + "). Försök igen.";
  }
});
// Search results that fill an input: a button with data-fill-input="<id>" and data-value.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-fill-input]");
  if (!button) { return; }
  var input = document.getElementById(button.dataset.fillInput);
  if (!input) { return; }
  input.value = button.dataset.value;
  var results = button.closest("[aria-live]");
  if (results) { results.innerHTML = ""; }
  input.focus();
  var status = document.getElementById("status");
  if (status) { status.textContent = "Vald: " + button.dataset.value; }
});
// "Kopiera" buttons: data-copy="<id of the element whose text to copy>".
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) { return; }
  var source = document.getElementById(button.dataset.copy);
  navigator.clipboard.writeText(source.textContent).then(function () {
    var status = document.getElementById("status");
    if (status) { status.textContent = "Kopierat."; }
    button.textContent = "Kopierat";
  });
});
// Folds (<details data-remember id=…>) keep what the person opened or closed when HTMX re-renders the editor.
var remembered = {};
document.addEventListener("toggle", function (event) {
  var details = event.target;
  if (details.matches && details.matches("details[data-remember][id]")) { remembered[details.id] = details.open; }
}, true);
document.addEventListener("htmx:load", function (event) {
  var root = event.detail.elt;
  if (!root.querySelectorAll) { return; }
  root.querySelectorAll("details[data-remember][id]").forEach(function (details) {
    // A fold the server opens (a new pupil, an error) stays open; otherwise the person's choice wins.
    if (Object.prototype.hasOwnProperty.call(remembered, details.id) && !details.open) {
      details.open = remembered[details.id];
    }
  });
});
// A link to a member (Skolverket's refusals above the editor) opens the class fold the row is in first,
// so the browser can scroll to it.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest('a[href^="#member-"]');
  if (!link) { return; }
  var row = document.getElementById(link.getAttribute("href").slice(1));
  var fold = row && row.closest("details");
  if (fold) { fold.open = true; }
});
