// What every page of hpsearch serve shares. Text from a run (names, values, errors) is only ever put into
// the page with textContent, and into a chart through plotText: never parsed as HTML.
"use strict";

const hp = {
  // GET a JSON answer of the server; throws with its error line.
  async api(path) {
    const answer = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    const body = await answer.json().catch(() => ({ error: answer.statusText }));
    if (!answer.ok) throw new Error(body.error || answer.statusText);
    return body;
  },

  // An element with attributes and children (strings become text nodes).
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(key, String(value));
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(child === null || child === undefined ? "" : String(child)));
    }
    return node;
  },

  // The text of a number as the terminal shows costs: 4 significant digits.
  num(value) {
    if (value === null || value === undefined) return "—";
    if (value === 0) return "0";
    const size = Math.abs(value);
    return size >= 1e-3 && size < 1e5 ? String(Number(value.toPrecision(4))) : value.toExponential(3);
  },

  // Text for a plotly label: plotly reads a few HTML tags in labels, so < > & are given as entities.
  plotText(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  },

  runLink(name) { return "/run/" + encodeURIComponent(name); },
  trialLink(name, trial) { return "/trial/" + encodeURIComponent(name) + "/" + encodeURIComponent(trial); },

  // The path's segments after the page's name, decoded: /run/NAME -> [NAME].
  pathArgs() {
    return location.pathname.split("/").filter((p) => p).slice(1).map(decodeURIComponent);
  },

  showError(error) {
    const line = document.getElementById("error");
    if (!line) return;
    line.hidden = !error;
    line.textContent = error ? String(error.message || error) : "";
  },

  // Draw or redraw a chart (plotly.react keeps zoom and what was hidden).
  draw(id, data, layout) {
    const base = { margin: { l: 60, r: 20, t: 20, b: 50 }, hovermode: "closest", legend: { orientation: "h" } };
    return Plotly.react(id, data, Object.assign(base, layout), { displaylogo: false, responsive: true });
  },

  // Call fn every `ms` milliseconds, one call at a time, errors shown and polling kept on.
  poll(fn, ms) {
    const step = async () => {
      try { await fn(); hp.showError(null); } catch (error) { hp.showError(error); }
      setTimeout(step, ms);
    };
    return step();
  },

  // A plotly axis of a parameter (as the server's axis: linear in log10 for log scales, log10(1 - beta) for
  // one_minus_log, by index for choices), with its ticks written as values.
  paramAxis(axis, title) {
    const flip = axis.reversed ? -1 : 1;
    const spec = { title: { text: hp.plotText(title) }, range: axis.range.map((v) => v * flip) };
    if (axis.ticks.length) {
      spec.tickvals = axis.ticks.map((t) => t[0] * flip);
      spec.ticktext = axis.ticks.map((t) => hp.plotText(t[1]));
    }
    if (axis.reversed) spec.range.sort((a, b) => a - b);
    return spec;
  },

  // Where a trial sits on a parameter's axis (flipped as paramAxis), or null where it did not use it.
  at(axis, trial) {
    const place = trial.at[axis.name];
    return place === undefined || place === null ? null : place * (axis.reversed ? -1 : 1);
  },

  // Best so far over trials in order: the lowest cost (highest when maximize) of those seen.
  bestSoFar(costs, maximize) {
    let best = null;
    return costs.map((c) => {
      if (c !== null && (best === null || (maximize ? c > best : c < best))) best = c;
      return best;
    });
  },
};
