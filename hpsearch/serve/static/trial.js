// A trial's page: its values, seed, results, error, per-epoch history and babysit's decisions.
"use strict";

const [RUN, TRIAL] = hp.pathArgs();

function rows(id, entries) {
  document.querySelector(`#${id} tbody`).replaceChildren(
    ...entries.map(([key, value]) => hp.el("tr", {}, hp.el("th", { class: "text" }, key), hp.el("td", {}, value))),
  );
}

async function load() {
  const trial = await hp.api(`/api/run/${encodeURIComponent(RUN)}/trial/${encodeURIComponent(TRIAL)}`);
  document.title = `hpsearch · ${RUN} · trial ${trial.trial}`;
  const link = document.getElementById("run-link");
  link.href = hp.runLink(RUN);
  link.textContent = RUN;
  document.getElementById("title").textContent = `trial ${trial.trial}`;
  const badge = document.getElementById("status");
  badge.textContent = trial.status;
  badge.className = "badge " + trial.status;
  rows("params", [["round", String(trial.round)], ["seed", trial.seed], ...Object.entries(trial.params)]);
  const results = Object.entries(trial.results).filter(([, v]) => v !== null).map(([k, v]) => [k, k === "epochs_run" || k === "rung" ? String(v) : hp.num(v)]);
  rows("results", [...results, ...Object.entries(trial.metrics).map(([k, v]) => [k, hp.num(v)])]);
  document.getElementById("failure").hidden = !trial.error;
  document.getElementById("trace").textContent = trial.error || "";
  document.getElementById("command").textContent = trial.command;
  const data = Object.entries(trial.history)
    .filter(([key, ys]) => key !== "learning_rate" && ys.length)
    .map(([key, ys]) => ({ type: "scatter", mode: "lines+markers", name: hp.plotText(key), x: ys.map((_, i) => i + 1), y: ys }));
  const epochs = new Set(trial.decisions.map((d) => d.epoch));
  const shapes = [...epochs].map((e) => ({ type: "line", xref: "x", yref: "paper", x0: e + 0.5, x1: e + 0.5, y0: 0, y1: 1, line: { dash: "dash", color: "#b00020" } }));
  hp.draw("history", data, { xaxis: { title: { text: "epoch" } }, shapes });
  document.getElementById("decisions-section").hidden = !trial.decisions.length;
  document.getElementById("decisions").replaceChildren(
    ...trial.decisions.map((d) => hp.el("li", {}, `after epoch ${d.epoch}: ${d.action} — ${d.reason}`)),
  );
}

hp.poll(load, 3000);
