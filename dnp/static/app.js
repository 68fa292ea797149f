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
