/* Quick exit: leave for a neutral site without leaving this page in the back
   history (location.replace), hide the page at once, and end the session on the way
   out. The link goes to the node's /exit, which ends the session, answers with
   Clear-Site-Data and redirects to the neutral site; the beacon ends the session even
   if that navigation is cut short. Without JavaScript the same link does the same,
   only this page stays in the back history. Pressing Escape three times within two
   seconds does the same. */
(function () {
  "use strict";
  var presses = [];

  function leave(event) {
    var link = document.getElementById("quick-exit");
    if (!link) { return; }
    if (event) { event.preventDefault(); }
    document.documentElement.className += " leaving";
    var token = link.getAttribute("data-csrf");
    try {
      if (navigator.sendBeacon && token) {
        var body = new FormData();
        body.append("csrf", token);
        navigator.sendBeacon("/quick-exit", body);
      }
    } catch (ignored) { /* leaving matters more than logging out */ }
    window.location.replace(link.href);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var link = document.getElementById("quick-exit");
    if (link) { link.addEventListener("click", leave); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    presses = presses.filter(function (t) { return now - t < 2000; });
    presses.push(now);
    if (presses.length >= 3) { leave(null); }
  });
}());
