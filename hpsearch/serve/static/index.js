// The runs list: every run with its status, trials done of planned and best; damaged runs with their reason.
"use strict";

let shownNames = "";

async function refresh() {
  const answer = await hp.api("/api/runs");
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(
    ...answer.runs.map((run) =>
      hp.el(
        "tr",
        { class: run.status },
        hp.el("td", { class: "text" }, hp.el("a", { href: hp.runLink(run.name) }, run.name)),
        hp.el("td", { class: "text" }, run.kind),
        hp.el("td", { class: "text" }, hp.el("span", { class: "badge " + run.status }, run.status)),
        hp.el("td", {}, `${run.done} of ${run.planned}`),
        hp.el("td", {}, run.best === null ? "—" : `${run.label} ${hp.num(run.best)} (trial ${run.best_trial})`),
        hp.el("td", { class: "text" }, run.created.replace("T", " ")),
      ),
    ),
  );
  document.getElementById("empty").hidden = answer.runs.length + answer.unreadable.length > 0;
  document.getElementById("damaged-section").hidden = answer.unreadable.length === 0;
  document.getElementById("damaged").replaceChildren(
    ...answer.unreadable.map((run) => hp.el("li", {}, hp.el("strong", {}, run.name), ": ", run.reason)),
  );
  const names = answer.runs.map((run) => run.name);
  if (names.join("\n") !== shownNames) {  // keep a choice being made
    shownNames = names.join("\n");
    for (const [id, pick] of [["compare-a", names.length - 2], ["compare-b", names.length - 1]]) {
      const select = document.getElementById(id);
      select.replaceChildren(...names.map((name) => hp.el("option", { value: name }, name)));
      select.selectedIndex = Math.max(0, pick);
    }
  }
  document.getElementById("live").textContent = "live: updated " + new Date().toLocaleTimeString();
}

hp.poll(refresh, 2000);
