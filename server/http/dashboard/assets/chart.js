// Line charts in inline SVG, drawn from samples the overview page collects (no library).

import { h, num, svg } from "./dom.js";

const W = 600;
const H = 190;
const PAD = { left: 52, right: 10, top: 10, bottom: 22 };

/** The smallest 1, 2 or 5 × 10^k at least `v` (and at least 1): one step of the y axis. */
function niceStep(v) {
  if (!(v > 1)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5]) if (v <= m * p) return m * p;
  return 10 * p;
}

function short(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 === 0 ? 0 : 1) + "M";
  if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 === 0 ? 0 : 1) + "k";
  return String(Math.round(v * 10) / 10);
}

/**
 * A time-series chart.
 * @param samples [{ t: ms, values: { key: number } }] oldest first
 * @param series [{ key, label, color }]
 * @param options { span: ms shown (default 1 min), unit: "/s" or "" }
 */
export function lineChart(samples, series, options = {}) {
  const span = options.span ?? 60 * 1000;
  const unit = options.unit ?? "";
  const now = samples.length ? samples[samples.length - 1].t : Date.now();
  const t0 = now - span;
  const shown = samples.filter((s) => s.t >= t0);
  let max = 0;
  for (const s of shown) for (const { key } of series) max = Math.max(max, s.values[key] ?? 0);
  max = 4 * niceStep(max / 4); // four grid steps of a round size
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const x = (t) => PAD.left + ((t - t0) / span) * iw;
  const y = (v) => PAD.top + ih - (v / max) * ih;

  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    root.append(
      svg("line", {
        x1: PAD.left,
        x2: W - PAD.right,
        y1: y(v),
        y2: y(v),
        stroke: "#e2e5ea",
        "stroke-width": 1,
      }),
      svg(
        "text",
        { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#667085" },
        short(v),
      ),
    );
  }
  // Six steps along the time axis: 10 s for the last minute, 1 min for 5 min, 2 min for 10.
  const step = span / 6 >= 60000 ? Math.round(span / 6 / 60000) * 60000 : span / 6;
  for (let k = 0; k * step <= span; k++) {
    const ago = k * step;
    const label = ago === 0
      ? "now"
      : ago < 60000
      ? "-" + Math.round(ago / 1000) + " s"
      : "-" + ago / 60000 + " min";
    root.append(
      svg(
        "text",
        {
          x: x(now - ago),
          y: H - 6,
          "text-anchor": ago === 0 ? "end" : "middle",
          "font-size": 11,
          fill: "#667085",
        },
        label,
      ),
    );
  }
  for (const { key, color } of series) {
    // A gap of more than 3 polling intervals (tab hidden, page left) breaks the line.
    let points = [];
    let last = null;
    const flush = () => {
      if (points.length > 1) {
        root.append(
          svg("polyline", {
            points: points.join(" "),
            fill: "none",
            stroke: color,
            "stroke-width": 2,
            "stroke-linejoin": "round",
            "vector-effect": "non-scaling-stroke",
          }),
        );
      } else if (points.length === 1) {
        const [px, py] = points[0].split(",");
        root.append(svg("circle", { cx: px, cy: py, r: 2.5, fill: color }));
      }
      points = [];
    };
    for (const s of shown) {
      const v = s.values[key];
      if (typeof v !== "number") continue;
      if (last !== null && s.t - last > 16000) flush();
      points.push(x(s.t).toFixed(1) + "," + y(v).toFixed(1));
      last = s.t;
    }
    flush();
  }
  const latest = shown.length ? shown[shown.length - 1].values : {};
  const legend = h(
    "div",
    { class: "legend" },
    series.map(({ key, label, color }) => {
      const swatch = h("i");
      swatch.style.background = color;
      const v = latest[key];
      return h(
        "span",
        { "data-series": key },
        swatch,
        label + " ",
        h(
          "b",
          null,
          typeof v === "number" ? (unit === "/s" ? num(Math.round(v * 10) / 10) + "/s" : num(v)) : "–",
        ),
      );
    }),
  );
  return h("div", { class: "chart" }, root, legend);
}
