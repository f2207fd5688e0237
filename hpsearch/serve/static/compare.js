// Two runs side by side: their best trials, best so far, and the learning curves of each one's best, on shared axes.
"use strict";

const query = new URLSearchParams(location.search);
const RUNS = [query.get("a") || "", query.get("b") || ""];

async function side(name) {
  const api = "/api/run/" + encodeURIComponent(name);
  const meta = await hp.api(api);
  const trials = [];
  let after = 0;
  for (;;) {
    const chunk = await hp.api(`${api}/trials?after=${after}`);
    trials.push(...chunk.trials);
    after = chunk.after;
    if (!chunk.more) break;
  }
  const board = await hp.api(`${api}/leaderboard?size=3`);
  const top = board.rows.filter((r) => r.status === "ok").map((r) => r.trial);
  const curves = top.length ? await hp.api(`${api}/curves?trials=${top.join(",")}`) : { curves: {}, metric: null };
  return { name, meta, trials: trials.sort((a, b) => a.trial - b.trial), board, top, curves };
}

async function load() {
  const sides = await Promise.all(RUNS.map(side));
  document.getElementById("title").textContent = `compare ${RUNS[0]} and ${RUNS[1]}`;
  document.getElementById("bests").replaceChildren(...sides.map((s) => {
    const table = hp.el("table", { class: "board" }, hp.el("thead", {}, hp.el("tr", {}, ...s.board.columns.map((c) => hp.el("th", {}, c)))),
      hp.el("tbody", {}, ...s.board.rows.map((r) => hp.el("tr", { class: r.status }, ...r.cells.map((c) => hp.el("td", {}, c))))));
    return hp.el("section", {}, hp.el("h2", {}, hp.el("a", { href: hp.runLink(s.name) }, s.name)),
      hp.el("p", {}, `${s.meta.kind}; ${s.meta.done} of ${s.meta.planned} trials; ${s.meta.status}`), hp.el("div", { class: "wide" }, table));
  }));
  hp.draw("progress", sides.map((s) => {
    const ok = s.trials.filter((t) => t.status === "ok");
    return { type: "scatter", mode: "lines", line: { shape: "hv" }, name: hp.plotText(s.name), x: ok.map((_, i) => i + 1),
      y: hp.bestSoFar(ok.map((t) => t.cost), s.meta.maximize) };
  }), { xaxis: { title: { text: "trials finished" } }, yaxis: { title: { text: hp.plotText(sides[0].meta.label) } } });
  const data = [];
  sides.forEach((s, k) => {
    const field = s.curves.metric ?? "dev_cost";
    for (const trial of s.top) {
      const ys = (s.curves.curves[String(trial)] || {})[field] || [];
      data.push({ type: "scatter", mode: "lines", name: hp.plotText(`${s.name} trial ${trial}`), x: ys.map((_, i) => i + 1), y: ys,
        line: { dash: k ? "dash" : "solid" } });
    }
  });
  hp.draw("curves", data, { xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: hp.plotText(sides[0].meta.label) } } });
}

hp.poll(load, 5000);
