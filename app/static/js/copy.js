// A Copy button beside a secret shown once (the console's applications). Without JavaScript the
// button stays hidden and the secret is there to select by hand.
(function () {
  "use strict";
  if (!navigator.clipboard) {
    return;
  }
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var done = button.parentNode.querySelector(".copy-done");
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent).then(function () {
        if (done) {
          done.textContent = "Copied.";
        }
      }, function () {
        if (done) {
          done.textContent = "Could not copy: select the secret and copy it by hand.";
        }
      });
    });
  });
})();
