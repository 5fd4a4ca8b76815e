// Behaviour bound from data attributes: the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-print]");
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-on-focus]")) {
      target.select();
    }
  });
})();
