// A run's page: leaderboard (sorted, filtered, paged by the server), J per trial, parallel coordinates, curves,
// slices and importance; live: every second it asks for the trials it does not have (?after=N) and redraws.
"use strict";

const NAME = hp.pathArgs()[0] || "";
const API = "/api/run/" + encodeURIComponent(NAME);
const PARCOORDS_MAX = 1000; // lines drawn: the best ones (the leaderboard pages through all)
const MARKERS_MAX = 5000; // points a chart draws: the best half, and an even sample of the rest
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]; // by round
const state = { meta: null, trials: [], after: 0, generation: 0, filtersMade: false, topKey: "", drawn: 0 };
const board = { page: 0, size: 50, sort: "rank", desc: false, status: "", round: "", param: "", lo: "", hi: "" };

function better(a, b) { return state.meta.maximize ? b - a : a - b; }

async function loadMeta() {
  const meta = await hp.api(API);
  state.meta = meta;
  document.title = "hpsearch · " + meta.name;
  document.getElementById("title").textContent = meta.name;
  const badge = document.getElementById("status");
  badge.textContent = meta.status;
  badge.className = "badge " + meta.status;
  document.getElementById("summary").textContent =
    `${meta.kind}; ${meta.done} of ${meta.planned} trials` +
    (meta.best === null ? "; no ok trial yet" : `; best ${meta.label} ${hp.num(meta.best)} (trial ${meta.best_trial})`);
  document.getElementById("rounds").replaceChildren(...meta.rounds.map((r) => hp.el("li", {}, `round ${r.round}: ${r.how}`)));
  if (!state.filtersMade) {
    state.filtersMade = true;
    const rounds = document.getElementById("f-round");
    meta.rounds.forEach((r) => rounds.append(hp.el("option", { value: r.round }, String(r.round))));
    const params = document.getElementById("f-param");
    meta.axes.filter((a) => a.scale !== "choice").forEach((a) => params.append(hp.el("option", { value: a.name }, a.name)));
  }
}

async function loadTrials() {
  let fresh = false;
  for (;;) {
    const chunk = await hp.api(`${API}/trials?after=${state.after}&generation=${state.generation}`);
    if (chunk.reset) state.trials = [];
    state.trials.push(...chunk.trials);
    fresh = fresh || chunk.reset || chunk.trials.length > 0;
    state.after = chunk.after;
    state.generation = chunk.generation;
    if (!chunk.more) return fresh;
  }
}

function byTrial() { return [...state.trials].sort((a, b) => a.trial - b.trial); }

// At most MARKERS_MAX of `trials` (SVG charts: plotly's WebGL ones need eval, which the CSP forbids): the best
// half of them and an even sample of the others, in their order.
function sample(trials) {
  if (trials.length <= MARKERS_MAX) return trials;
  const keep = new Set(ranked().slice(0, MARKERS_MAX / 2).map((t) => t.trial));
  const every = Math.ceil(trials.length / (MARKERS_MAX / 2));
  return trials.filter((t, i) => keep.has(t.trial) || i % every === 0);
}

function drawHistory() {
  const trials = byTrial();
  const shown = sample(trials.filter((t) => t.cost !== null));
  const kind = "scatter";
  const meta = state.meta;
  const data = meta.rounds.map((r) => {
    const mine = shown.filter((t) => t.round === r.round);
    return {
      type: kind, mode: "markers", name: `round ${r.round}`, x: mine.map((t) => t.trial), y: mine.map((t) => t.cost),
      marker: { symbol: mine.map((t) => (t.status === "pruned" ? "circle-open" : "circle")), size: 7 },
      text: mine.map((t) => `trial ${t.trial} (${t.status})`), hoverinfo: "x+y+text",
    };
  });
  const finished = trials.filter((t) => t.status === "ok" && t.cost !== null);
  const best = hp.bestSoFar(finished.map((t) => t.cost), meta.maximize);
  const steps = finished.map((_, i) => i).filter((i) => i === 0 || i === best.length - 1 || best[i] !== best[i - 1]);
  data.push({
    type: kind, mode: "lines", name: "best so far", line: { shape: "hv", color: "#222" },
    x: steps.map((i) => finished[i].trial), y: steps.map((i) => best[i]),
  });
  const shapes = meta.rounds.map((r, i) => {
    const ids = trials.filter((t) => t.round === r.round).map((t) => t.trial);
    if (!ids.length) return null;
    return {
      type: "rect", xref: "x", yref: "paper", y0: 0, y1: 1, layer: "below", line: { width: 0 },
      x0: Math.min(...ids) - 0.5, x1: Math.max(...ids) + 0.5, fillcolor: i % 2 ? "#eef3fa" : "#f7f7f7",
    };
  }).filter((s) => s);
  hp.draw("history", data, {
    xaxis: { title: { text: "trial" } }, yaxis: { title: { text: hp.plotText(meta.label) } }, shapes,
  });
}

function ranked() {
  return state.trials.filter((t) => t.cost !== null).sort((a, b) => better(a.cost, b.cost) || a.trial - b.trial);
}

function drawParcoords() {
  const best = ranked().slice(0, PARCOORDS_MAX);
  document.getElementById("pc-n").textContent = String(best.length);
  drawParallel(document.getElementById("parcoords"), state.meta.axes, best, state.meta.label);
}

function drawSlices() {
  const meta = state.meta;
  const holder = document.getElementById("slices");
  const trials = sample(state.trials.filter((t) => t.cost !== null));
  const kind = "scatter";
  meta.axes.forEach((axis, i) => {
    let div = document.getElementById("slice-" + i);
    if (!div) { div = hp.el("div", { id: "slice-" + i }); holder.append(div); }
    const mine = trials.filter((t) => hp.at(axis, t) !== null);
    hp.draw(div, [{
      type: kind, mode: "markers", x: mine.map((t) => hp.at(axis, t)), y: mine.map((t) => t.cost),
      marker: { size: 6, symbol: mine.map((t) => (t.status === "pruned" ? "circle-open" : "circle")), color: mine.map((t) => PALETTE[t.round % PALETTE.length]) },
      text: mine.map((t) => `trial ${t.trial}: ${t.text[axis.name]}`), hoverinfo: "y+text",
    }], {
      xaxis: hp.paramAxis(axis, `${axis.name} [${axis.scale}]`), yaxis: { title: { text: hp.plotText(meta.label) } },
      margin: { l: 55, r: 10, t: 10, b: 45 }, showlegend: false,
    });
  });
}

async function drawCurves(force) {
  const top = ranked().slice(0, 5).map((t) => t.trial);
  const key = top.join(",");
  if (!top.length || (key === state.topKey && !force)) return;
  state.topKey = key;
  const answer = await hp.api(`${API}/curves?trials=${key}`);
  const rmse = !answer.metric && Object.values(answer.curves).some((h) => (h.dev_rmse || []).some((v) => v !== null));
  const field = answer.metric ?? (rmse ? "dev_rmse" : "dev_cost"); // a regression in its target's units
  const data = [];
  for (const trial of top) {
    const history = answer.curves[String(trial)] || {};
    const ys = history[field] || [];
    data.push({ type: "scatter", mode: "lines+markers", name: `trial ${trial}`, x: ys.map((_, i) => i + 1), y: ys });
    if (!answer.metric && !rmse && history.train_cost) {
      data.push({ type: "scatter", mode: "lines", name: `trial ${trial} train`, x: history.train_cost.map((_, i) => i + 1),
        y: history.train_cost, line: { dash: "dot", width: 1 }, showlegend: false });
    }
  }
  hp.draw("curves", data, {
    xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: hp.plotText(answer.metric ?? (rmse ? "dev RMSE" : "dev J (dotted: train J)")) } },
  });
}

async function drawImportance() {
  const report = await hp.api(`${API}/importance`);
  document.getElementById("importance-note").textContent = report.method + (report.message ? " — " + report.message : "");
  document.getElementById("importance").hidden = !report.enough;
  if (!report.enough) return;
  const items = [...report.items].reverse();
  hp.draw("importance", [{
    type: "bar", orientation: "h", y: items.map((i) => hp.plotText(i.name)), x: items.map((i) => i.share),
    error_x: { type: "data", array: items.map((i) => i.spread) },
  }], { xaxis: { title: { text: "share of the variation" }, tickformat: ".0%" }, margin: { l: 140, r: 20, t: 10, b: 45 } });
}

async function drawRungs() {
  const answer = await hp.api(`${API}/rungs`);
  if (!answer.trials.length) return;
  document.getElementById("rungs-section").hidden = false;
  document.getElementById("rungs-n").textContent = answer.of > answer.trials.length ? `The best ${answer.trials.length} of ${answer.of}.` : "";
  const x = [], y = [], symbol = [], text = [];
  for (const t of answer.trials) {
    t.points.forEach(([epoch, value], i) => {
      x.push(epoch); y.push(value); text.push(`trial ${t.trial}`);
      symbol.push(t.pruned && i === t.points.length - 1 ? "circle-open" : "circle");
    });
    x.push(null); y.push(null); symbol.push("circle"); text.push("");
  }
  hp.draw("rungs", [{ type: "scatter", mode: "lines+markers", x, y, text, hoverinfo: "x+y+text", connectgaps: false,
    marker: { symbol, size: 7 }, line: { width: 1, color: "#7a8ca5" } }],
  { xaxis: { title: { text: "epochs trained" } }, yaxis: { title: { text: hp.plotText(state.meta.label) } }, showlegend: false });
}

async function drawConfirm() {
  const answer = (await hp.api(`${API}/confirm`)).confirmation;
  if (!answer) return;
  document.getElementById("confirm-section").hidden = false;
  document.getElementById("confirm-note").textContent =
    (answer.tied ? "The top two cannot be told apart. " : "") + (answer.deterministic ? "Every repeat gave the same J." : "");
  const names = answer.trials.map((c) => `trial ${c.trial} (#${c.leaderboard_rank})`);
  const repeats = { type: "scatter", mode: "markers", name: "repeats", marker: { size: 6, color: "#7a8ca5" }, x: [], y: [] };
  answer.trials.forEach((c, i) => c.values.forEach((v) => { repeats.x.push(names[i]); repeats.y.push(v); }));
  const means = answer.trials.map((c) => c.mean);
  const mean = { type: "scatter", mode: "markers", name: "mean, 95% interval", x: names, y: means, marker: { size: 11, symbol: "line-ew-open" },
    error_y: { type: "data", symmetric: false, array: answer.trials.map((c, i) => (c.interval ? c.interval[1] - means[i] : 0)),
      arrayminus: answer.trials.map((c, i) => (c.interval ? means[i] - c.interval[0] : 0)) } };
  const first = { type: "scatter", mode: "markers", name: "first run", x: names, y: answer.trials.map((c) => c.first), marker: { symbol: "x", size: 9 } };
  hp.draw("confirm", [repeats, mean, first], { yaxis: { title: { text: hp.plotText(state.meta.label) } } });
}

const SORTABLE = { rank: "rank", trial: "trial", round: "round", seconds: "seconds", epochs: "epochs", "epochs run": "epochs" };

async function loadLeaderboard() {
  const query = new URLSearchParams({ page: board.page, size: board.size, sort: board.sort, desc: board.desc ? "1" : "0" });
  for (const key of ["status", "round", "param", "lo", "hi"]) if (board[key] !== "") query.set(key, board[key]);
  const answer = await hp.api(`${API}/leaderboard?${query}`);
  const names = new Set(state.meta.axes.map((a) => a.name));
  const head = document.querySelector("#leaderboard thead tr");
  head.replaceChildren(...answer.columns.map((title) => {
    const sort = SORTABLE[title] || (names.has(title) ? title : null);
    const mark = sort && sort === board.sort ? (board.desc ? " ▼" : " ▲") : "";
    const th = hp.el("th", { class: sort ? "sortable" : "", title: sort ? "sort by " + title : null }, title + mark);
    if (sort) th.addEventListener("click", () => {
      board.desc = board.sort === sort ? !board.desc : false;
      board.sort = sort;
      board.page = 0;
      loadLeaderboard().catch(hp.showError);
    });
    return th;
  }));
  const at = answer.columns.indexOf("trial");
  document.querySelector("#leaderboard tbody").replaceChildren(...answer.rows.map((row) => hp.el("tr", { class: row.status },
    ...row.cells.map((cell, i) => hp.el("td", {}, i === at ? hp.el("a", { href: hp.trialLink(NAME, row.trial) }, cell) : cell)))));
  const pages = Math.max(1, Math.ceil(answer.total / answer.size));
  board.page = answer.page;
  document.getElementById("page").textContent = `page ${answer.page + 1} of ${pages} (${answer.total} of ${answer.of} trials)`;
  document.getElementById("prev").disabled = answer.page === 0;
  document.getElementById("next").disabled = answer.page + 1 >= pages;
}

function wireLeaderboard() {
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    for (const key of ["status", "round", "param", "lo", "hi"]) board[key] = document.getElementById("f-" + key).value;
    board.page = 0;
    loadLeaderboard().catch(hp.showError);
  });
  document.getElementById("prev").addEventListener("click", () => { board.page -= 1; loadLeaderboard().catch(hp.showError); });
  document.getElementById("next").addEventListener("click", () => { board.page += 1; loadLeaderboard().catch(hp.showError); });
}

let ticks = 0;
async function tick() {
  if (!state.meta) { // the table first: a run of 100,000 trials takes a while to send them all
    await loadMeta();
    await loadLeaderboard();
  }
  const fresh = await loadTrials();
  ticks += 1;
  if (fresh || ticks % 5 === 1 || !state.meta) await loadMeta();
  if (!fresh && state.drawn) return;
  state.drawn += 1;
  await loadLeaderboard();
  drawHistory();
  drawParcoords();
  drawSlices();
  await drawCurves(false);
  if (state.drawn === 1 || state.drawn % 10 === 0) {
    await drawImportance();
    await drawRungs();
    await drawConfirm();
  }
  document.getElementById("live").textContent =
    state.meta.status === "running" ? "live: updated " + new Date().toLocaleTimeString() : "";
}

wireLeaderboard();
hp.poll(tick, 1000);
