// The lead page's score history chart: reads the json_script the view wrote, draws it with
// the vendored Chart.js. No inline script, no CDN.
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("score-history-chart");
    var source = document.getElementById("score-history-data");
    if (!canvas || !source || typeof window.Chart === "undefined") return;
    var points = JSON.parse(source.textContent || "[]");
    var labels = points.map(function (p) { return p.at.slice(0, 10); });
    var datasets = [
      { label: "Fit", data: points.map(function (p) { return p.fit; }), borderColor: "#1d4f91", backgroundColor: "#1d4f91", stepped: true },
      { label: "Engagement", data: points.map(function (p) { return p.engagement; }), borderColor: "#2f9e44", backgroundColor: "#2f9e44", tension: 0.2 }
    ];
    if (points.some(function (p) { return p.predicted !== null; })) {
      datasets.push({ label: "Predicted %", data: points.map(function (p) { return p.predicted; }), borderColor: "#e8590c", backgroundColor: "#e8590c", borderDash: [4, 3] });
    }
    new window.Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: datasets },
      options: {
        animation: false, maintainAspectRatio: false,
        scales: { y: { min: 0, max: 100 } },
        plugins: { tooltip: { callbacks: { afterBody: function (items) { return points[items[0].dataIndex].cause; } } } }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
