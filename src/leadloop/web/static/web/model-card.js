// The model card's calibration chart: mean predicted vs observed per bin, from the page's
// json_script (the same JSON as GET /api/v1/scoring/model).
(function () {
  "use strict";
  function draw() {
    var node = document.getElementById("model-card-data");
    var canvas = document.getElementById("calibration-chart");
    if (!node || !canvas || typeof Chart === "undefined") return;
    var card = JSON.parse(node.textContent);
    var bins = card.calibration.filter(function (b) { return b.count > 0; });
    var css = getComputedStyle(document.documentElement);
    var accent = css.getPropertyValue("--brand").trim() || "#4f46e5";
    var muted = css.getPropertyValue("--muted").trim() || "#6b7280";
    new Chart(canvas, {
      type: "scatter",
      data: {
        datasets: [
          {
            label: "Observed rate",
            data: bins.map(function (b) { return { x: b.mean_predicted, y: b.observed, n: b.count }; }),
            backgroundColor: accent,
            borderColor: accent,
            pointRadius: bins.map(function (b) { return Math.max(3, Math.min(12, Math.sqrt(b.count) / 2)); }),
            showLine: true,
          },
          {
            label: "Perfect calibration",
            data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
            borderColor: muted,
            borderDash: [4, 4],
            pointRadius: 0,
            showLine: true,
          },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { min: 0, max: 1, title: { display: true, text: "Mean predicted probability" } },
          y: { min: 0, max: 1, title: { display: true, text: "Observed rate" } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var p = ctx.raw;
                if (p.n === undefined) return "diagonal";
                return "predicted " + (100 * p.x).toFixed(1) + " %, observed " + (100 * p.y).toFixed(1) + " % (" + p.n + " leads)";
              },
            },
          },
        },
      },
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
