// The SLA compliance charts, drawn from the page's json_script: the same JSON as
// GET /api/v1/sla/compliance and GET /api/v1/sla/marketing. A rate over fewer than ten clocks is
// not drawn ("not enough data", METRICS.md); hover shows counts and the 95 % Wilson interval.
(function () {
  "use strict";
  var PALETTE = ["#4f46e5", "#0f766e", "#b45309", "#be185d", "#1d4ed8", "#15803d", "#7c3aed", "#c2410c"];
  var NOT_ENOUGH = 10;

  function read(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function pct(x) {
    return x === null || x === undefined ? "-" : Math.round(100 * x) + " %";
  }

  function week(day) {
    var d = new Date(day + "T12:00:00");
    return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
  }

  function colour(i) {
    return PALETTE[i % PALETTE.length];
  }

  function base(yTitle, extra) {
    var options = {
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "nearest", intersect: false },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } },
    };
    if (extra) extra(options);
    return options;
  }

  function shareLabel(name, share) {
    if (share.of === 0) return name + ": nothing due";
    var text = name + ": " + share.count + " of " + share.of + " met";
    if (share.of < NOT_ENOUGH) return text + " (not enough data for a rate)";
    text += " (" + pct(share.value) + "; 95 % interval " + pct(share.low) + " to " + pct(share.high) + ")";
    return share.of < 30 ? text + ", small sample" : text;
  }

  function drawCompliance(data, level) {
    var series = data.series.filter(function (s) {
      return level === "team" ? s.level === "team" : s.level !== "team";
    });
    var labels = data.weeks.map(week);

    var share = document.getElementById("chart-share");
    if (share) {
      new Chart(share, {
        type: "line",
        data: {
          labels: labels,
          datasets: series.map(function (s, i) {
            return {
              label: s.label,
              weeks: s.weeks,
              data: s.weeks.map(function (w) {
                return w.share_met.of >= NOT_ENOUGH ? Math.round(1000 * w.share_met.value) / 10 : null;
              }),
              borderColor: colour(i),
              backgroundColor: colour(i),
              spanGaps: false,
              tension: 0.2,
            };
          }),
        },
        options: base("% met", function (o) {
          o.scales.y.max = 100;
          o.plugins.tooltip = {
            callbacks: {
              label: function (ctx) {
                return shareLabel(ctx.dataset.label, ctx.dataset.weeks[ctx.dataIndex].share_met);
              },
            },
          };
        }),
      });
    }

    var breaches = document.getElementById("chart-breaches");
    if (breaches) {
      new Chart(breaches, {
        type: "bar",
        data: {
          labels: labels,
          datasets: series.map(function (s, i) {
            return {
              label: s.label,
              data: s.weeks.map(function (w) { return w.breached; }),
              backgroundColor: colour(i),
            };
          }),
        },
        options: base("Breaches", function (o) { o.scales.y.ticks = { precision: 0 }; }),
      });
    }

    var response = document.getElementById("chart-response");
    if (response) {
      var datasets = [];
      series.forEach(function (s, i) {
        datasets.push({
          label: s.label + " median",
          data: s.weeks.map(function (w) { return w.median_hours; }),
          borderColor: colour(i),
          backgroundColor: colour(i),
          tension: 0.2,
        });
        datasets.push({
          label: s.label + " p90",
          data: s.weeks.map(function (w) { return w.p90_hours; }),
          borderColor: colour(i),
          backgroundColor: colour(i),
          borderDash: [5, 4],
          pointStyle: "rectRot",
          tension: 0.2,
        });
      });
      new Chart(response, { type: "line", data: { labels: labels, datasets: datasets }, options: base("Business hours") });
    }
  }

  function drawMarketing(data) {
    var periods = data.periods;
    var labels = periods.map(function (p) { return week(p.start.slice(0, 10)); });
    var delivered = document.getElementById("chart-delivered");
    if (delivered) {
      new Chart(delivered, {
        data: {
          labels: labels,
          datasets: [
            { type: "bar", label: "Delivered", data: periods.map(function (p) { return p.delivered; }), backgroundColor: colour(0) },
            { type: "line", label: "Target", data: periods.map(function (p) { return p.target; }), borderColor: "#6b7280", borderDash: [5, 4], pointRadius: 0, stepped: "middle" },
          ],
        },
        options: base("MQLs", function (o) { o.scales.y.ticks = { precision: 0 }; }),
      });
    }
    var quality = document.getElementById("chart-quality");
    if (quality) {
      var rate = function (key) {
        return periods.map(function (p) { return p[key].of >= NOT_ENOUGH ? Math.round(1000 * p[key].value) / 10 : null; });
      };
      var target = function (key) {
        return periods.map(function (p) { return Math.round(1000 * p[key]) / 10; });
      };
      new Chart(quality, {
        type: "line",
        data: {
          labels: labels,
          datasets: [
            { label: "Good fit", key: "good_fit", data: rate("good_fit"), borderColor: colour(1), backgroundColor: colour(1), tension: 0.2 },
            { label: "Good-fit target", data: target("good_fit_target"), borderColor: colour(1), borderDash: [5, 4], pointRadius: 0 },
            { label: "Accepted", key: "accepted", data: rate("accepted"), borderColor: colour(2), backgroundColor: colour(2), tension: 0.2 },
            { label: "Acceptance target", data: target("accepted_target"), borderColor: colour(2), borderDash: [5, 4], pointRadius: 0 },
          ],
        },
        options: base("%", function (o) {
          o.scales.y.max = 100;
          o.plugins.tooltip = {
            callbacks: {
              label: function (ctx) {
                var key = ctx.dataset.key;
                if (!key) return ctx.dataset.label + ": " + ctx.formattedValue + " %";
                var share = periods[ctx.dataIndex][key];
                var text = ctx.dataset.label + ": " + share.count + " of " + share.of;
                return share.of < NOT_ENOUGH ? text + " (not enough data)" : text + " (" + pct(share.value) + "; 95 % interval " + pct(share.low) + " to " + pct(share.high) + ")";
              },
            },
          };
        }),
      });
    }
  }

  function draw() {
    if (typeof Chart === "undefined") return;
    var level = document.querySelector("[data-chart-level]");
    var compliance = read("compliance-data");
    if (compliance) drawCompliance(compliance, level ? level.getAttribute("data-chart-level") : "team");
    var marketing = read("marketing-data");
    if (marketing && marketing.periods.length) drawMarketing(marketing);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
