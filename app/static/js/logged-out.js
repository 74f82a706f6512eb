// The logged-out page: once the applications' front-channel logout frames have loaded (the window's
// load event waits for every frame), or after a few seconds at most, continue to where the logout
// was going. Without JavaScript the page shows the same link to follow by hand.
(function () {
  "use strict";
  var link = document.getElementById("continue");
  if (!link) {
    return;
  }
  var wait = parseInt(link.getAttribute("data-wait-ms"), 10) || 5000;
  var gone = false;
  function go() {
    if (!gone) {
      gone = true;
      window.location.assign(link.href);
    }
  }
  if (document.readyState === "complete") {
    go();
  } else {
    window.addEventListener("load", go);
  }
  window.setTimeout(go, wait);
})();
