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
  // A search box above a select keeps only the options that contain what is typed
  // (and the groups that still hold one); the choice moves to the first match when
  // the chosen option is filtered out.
  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-filter-select]")) {
      return;
    }
    var select = document.getElementById(box.getAttribute("data-filter-select"));
    if (!select) {
      return;
    }
    var query = box.value.trim().toLowerCase();
    var first = null;
    Array.prototype.forEach.call(select.options, function (option) {
      var keep = !query || option.text.toLowerCase().indexOf(query) !== -1;
      option.hidden = !keep;
      if (keep && first === null && option.value) {
        first = option;
      }
    });
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
    });
    var chosen = select.options[select.selectedIndex];
    if (query && first !== null && (!chosen || chosen.hidden || !chosen.value)) {
      select.value = first.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target.matches && target.matches("[data-select-on-focus]")) {
      target.select();
    }
  });
})();
