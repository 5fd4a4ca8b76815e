/* The invitation form's unit picker: search the alliance's units in place.
   Without this script the search form opens the invitation page with the units found. */
(function () {
  "use strict";

  function setUp(picker) {
    var search = picker.querySelector("[data-unit-search]");
    var results = picker.querySelector("[data-unit-results]");
    var url = picker.getAttribute("data-url");
    if (!search || !results || !url || !window.fetch) {
      return;
    }
    var pending = null;
    var timer = null;

    function chosen() {
      return Array.prototype.map.call(
        results.querySelectorAll("input[type=checkbox]:checked"),
        function (box) { return box.value; }
      );
    }

    function find() {
      var params = new URLSearchParams();
      params.set("unit_q", search.elements.unit_q.value);
      params.set("unit_kind", search.elements.unit_kind.value);
      chosen().forEach(function (id) { params.append("chosen", id); });
      if (pending) {
        pending.abort();
      }
      pending = new AbortController();
      picker.setAttribute("aria-busy", "true");
      fetch(url + "?" + params.toString(), {
        credentials: "same-origin",
        signal: pending.signal,
        headers: { "Accept": "text/html" }
      }).then(function (response) {
        if (!response.ok) {
          throw new Error(response.status);
        }
        return response.text();
      }).then(function (html) {
        results.innerHTML = html;
        picker.removeAttribute("aria-busy");
      }).catch(function (error) {
        if (error.name !== "AbortError") {
          picker.removeAttribute("aria-busy");
          search.submit();  /* fall back to the page that lists the units found */
        }
      });
    }

    search.addEventListener("submit", function (event) {
      event.preventDefault();
      find();
    });
    search.elements.unit_q.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(find, 250);
    });
    search.elements.unit_kind.addEventListener("change", find);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-unit-picker]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
