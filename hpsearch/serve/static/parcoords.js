// Parallel coordinates drawn as SVG, each axis on its parameter's own scale (the server's axis: log10 of the
// value for log scales, log10(1 - beta) for one_minus_log, an index for choices), ticks written as values.
// Plotly's parcoords needs WebGL compiled through eval, which the pages' Content-Security-Policy forbids.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text; // text, never markup
  return node;
}

// Five round numbers across [low, high], for an axis the server gave no ticks (a linear scale).
function linearTicks(low, high) {
  const step = Math.pow(10, Math.floor(Math.log10((high - low) / 4 || 1)));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (high - low) / s <= 6) || step * 10;
  const ticks = [];
  for (let v = Math.ceil(low / nice) * nice; v <= high + 1e-12; v += nice) ticks.push([v, hp.num(Number(v.toPrecision(12)))]);
  return ticks;
}

// Colour of a cost's place among the lines, 0 (best) .. 1 (worst): yellow-green to dark blue.
function colour(q) {
  const stops = [[253, 231, 37], [53, 183, 121], [49, 104, 142], [68, 1, 84]];
  const x = Math.min(0.999, Math.max(0, q)) * (stops.length - 1);
  const [a, b] = [stops[Math.floor(x)], stops[Math.floor(x) + 1]];
  const mix = (i) => Math.round(a[i] + (b[i] - a[i]) * (x - Math.floor(x)));
  return `rgb(${mix(0)},${mix(1)},${mix(2)})`;
}

// Draw `trials` (best first) in `holder`: one axis per entry of `axes` and a last one for the cost.
function drawParallel(holder, axes, trials, label) {
  const width = Math.max(400, holder.clientWidth || 900);
  const height = 380;
  const top = 40;
  const bottom = height - 50;
  const none = bottom + 22; // "—": the trial did not use the parameter
  const costs = trials.map((t) => t.cost);
  const costAxis = { name: label, scale: "cost", range: [Math.min(...costs), Math.max(...costs)], ticks: [], reversed: false };
  if (costAxis.range[0] === costAxis.range[1]) costAxis.range = [costAxis.range[0] - 1, costAxis.range[1] + 1];
  const all = [...axes, costAxis];
  const gap = (width - 120) / Math.max(1, all.length - 1);
  const root = svg("svg", { width, height: height, class: "parallel", role: "img" });
  const place = (axis, value) => {
    if (value === null || value === undefined) return none;
    const [low, high] = axis.range;
    let q = (value - low) / (high - low || 1);
    if (axis.reversed) q = 1 - q; // 0.9 low, 0.999 high
    return bottom - q * (bottom - top);
  };
  const lines = svg("g", { class: "lines" });
  trials.slice().reverse().forEach((t, k) => { // the best drawn last, on top
    const points = all.map((axis, i) => `${60 + i * gap},${place(axis, i < axes.length ? t.at[axis.name] ?? null : t.cost)}`);
    const q = trials.length > 1 ? (trials.length - 1 - k) / (trials.length - 1) : 0;
    const line = svg("polyline", { points: points.join(" "), fill: "none", stroke: colour(q), "stroke-width": 1.2, "stroke-opacity": 0.7 });
    line.append(svg("title", {}, `trial ${t.trial}: ${label} ${hp.num(t.cost)}`));
    lines.append(line);
  });
  root.append(lines);
  all.forEach((axis, i) => {
    const x = 60 + i * gap;
    const group = svg("g", { class: "axis", "data-name": axis.name, "data-scale": axis.scale });
    group.append(svg("line", { x1: x, x2: x, y1: top, y2: bottom, stroke: "#333" }));
    const ticks = axis.ticks.length ? axis.ticks : linearTicks(...axis.range);
    for (const [value, text] of ticks) {
      const y = place(axis, value);
      if (y < top - 0.5 || y > bottom + 0.5) continue;
      group.append(svg("line", { x1: x - 4, x2: x, y1: y, y2: y, stroke: "#333" }));
      group.append(svg("text", { x: x - 7, y: y + 4, "text-anchor": "end", class: "tick", "font-size": 11 }, text));
    }
    const unused = i < axes.length && trials.some((t) => t.at[axis.name] === undefined || t.at[axis.name] === null);
    if (unused) group.append(svg("text", { x: x - 7, y: none + 4, "text-anchor": "end", "font-size": 11, fill: "#888" }, "—"));
    const title = axis.scale === "cost" ? axis.name : `${axis.name} [${axis.scale}]`;
    group.append(svg("text", { x, y: top - 14, "text-anchor": "middle", class: "title", "font-size": 12 }, title));
    root.append(group);
  });
  holder.replaceChildren(root);
}
