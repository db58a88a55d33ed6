// The integration page's only script (served from this origin; the CSP allows nothing else).
// Everything works without it but two conveniences: Copy buttons, and the live sync progress.
(function () {
  "use strict";

  function announce(el, text) {
    var live = document.getElementById("live");
    if (!live) {
      live = document.createElement("p");
      live.id = "live";
      live.className = "skip";
      live.setAttribute("role", "status");
      document.body.appendChild(live);
    }
    live.textContent = text;
    if (el) {
      var before = el.textContent;
      el.textContent = "Copied";
      setTimeout(function () { el.textContent = before; }, 1500);
    }
  }

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () { announce(button, "Copied to the clipboard"); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Live progress of a sync run: polls the run's progress and updates the bar and the counts;
  // when the run stops running, reloads once to show the finished page (diff, held run, errors).
  function follow(box) {
    var url = box.getAttribute("data-progress-url");
    // Where to go once the run stops: a GET address, so a page that answered a form is never re-sent.
    var after = box.getAttribute("data-after") || "/admin/ui/";
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-label]");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          // Signed out meanwhile: reloading shows the sign-in page.
          if (r.status === 401) { window.location.reload(); return Promise.reject(r.status); }
          return r.ok ? r.json() : Promise.reject(r.status);
        })
        .then(function (p) {
          Object.keys(p.counts).forEach(function (k) {
            var el = box.querySelector('[data-count="' + k + '"]');
            if (el) el.textContent = String(p.counts[k]);
          });
          if (p.expected > 0) {
            bar.max = p.expected;
            bar.value = Math.min(p.counts.seen, p.expected);
          } else {
            bar.removeAttribute("value");
          }
          bar.setAttribute("data-seen", String(p.counts.seen));
          if (label) label.textContent = p.summary;
          if (p.status === "running") {
            setTimeout(tick, 1000);
          } else {
            window.location.replace(after);
          }
        })
        .catch(function (status) {
          // A refusal (no such run, ...) will not change by asking again; a failure might.
          if (typeof status === "number" && status >= 400 && status < 500) {
            if (label) label.textContent = "The progress cannot be read; reload the page.";
            return;
          }
          setTimeout(tick, 3000);
        });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-progress-url]");
    for (var i = 0; i < boxes.length; i++) follow(boxes[i]);
  });
})();
