// Campaigns: the list, and one campaign's page: its plot (objective per trial with the best so far, or
// the Pareto front), the best trial, every trial, and pause/resume/cancel.
import { fetchBlob, request, saveBlob } from "./api.js";
import { badge, errorBox, fill, h, progressBar, shortId, table, when } from "./dom.js";

// The actions each campaign status allows (docs/campaigns.md).
const ACTIONS = { RUNNING: ["pause", "cancel"], PAUSED: ["resume", "cancel"] };

function pairs(values) {
  const entries = Object.entries(values || {});
  if (!entries.length) return "—";
  return entries.map(([name, value]) => `${name}=${typeof value === "number" ? +value.toPrecision(6) : value}`).join(", ");
}

function objectives(campaign) {
  return campaign.spec.objectives.map((o) => `${o.direction} ${o.name}`).join(", ");
}

export function campaignsPage(view) {
  const list = h("div");
  const problem = h("div");
  fill(view, h("h1", {}, "Campaigns"), problem, list);
  return {
    async refresh() {
      try {
        const page = await request("/campaigns?limit=50");
        const rows = page.items.map((c) =>
          h("tr", { dataset: { id: c.id, status: c.status } },
            h("td", {}, h("a", { href: `#/campaigns/${c.id}` }, c.name || c.kind), " ", h("span.mono.muted", {}, shortId(c.id))),
            h("td", {}, c.kind),
            h("td", {}, objectives(c)),
            h("td", {}, badge(c.status)),
            h("td", {}, String(c.budget)),
            h("td", {}, when(c.created_at)),
          ));
        fill(list, table(["Campaign", "Kind", "Objectives", "Status", "Trials", "Created"], rows, "No campaigns yet."));
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}

// A trial's run: its execution, or (a workflow campaign's) its workflow.
function runLink(trial) {
  if (trial.execution_id) return h("a.mono", { href: `#/executions/${trial.execution_id}` }, shortId(trial.execution_id));
  if (trial.workflow_id) return h("a.mono", { href: `#/workflows/${trial.workflow_id}` }, shortId(trial.workflow_id));
  return "—";
}

function trialRows(trials) {
  return trials.map((t) =>
    h("tr", { dataset: { trial: t.number, status: t.status } },
      h("td", {}, String(t.number)),
      h("td", {}, badge(t.status)),
      h("td", {}, pairs(t.parameters)),
      h("td", {}, pairs(t.kpis)),
      h("td", {}, runLink(t)),
      h("td", {}, t.error ?? ""),
    ));
}

function bestCard(campaign) {
  const best = campaign.best;
  if (!best) return h("p.muted", { id: "best" }, "No trial has a result yet.");
  if (best.pareto_front) {
    return h("div.card", { id: "best" }, h("h3", {}, `Pareto front: ${best.pareto_front.length} trials`),
      table(["Trial", "Parameters", "KPIs"], best.pareto_front.map((t) =>
        h("tr", {}, h("td", {}, String(t.number)), h("td", {}, pairs(t.parameters)), h("td", {}, pairs(t.kpis))))));
  }
  return h("div.card", { id: "best" }, h("h3", {}, `Best: trial ${best.trial}`),
    h("p", {}, pairs(best.kpis), h("span.muted", {}, " at "), pairs(best.parameters)));
}

export function campaignPage(view, id) {
  const head = h("div.job-head");
  const problem = h("div");
  const best = h("div");
  const plot = h("img.plot", { id: "plot", alt: "Objective per trial, with the best so far" });
  const plotNote = h("p.muted", {}, "The plot appears once a trial has a result.");
  const history = h("button", { type: "button", onclick: () => saveHistory() }, "Download history.csv");
  const trials = h("div");
  fill(view, h("p", {}, h("a", { href: "#/campaigns" }, "← Campaigns")), head, problem, best,
    h("h2", {}, "Plot"), plotNote, plot, h("h2", {}, "Trials ", history), trials);
  plot.hidden = true;
  let plotted = ""; // the record's updated_at when the plot on show was fetched
  let plotUrl = null;

  async function act(action) {
    try {
      await request(`/campaigns/${id}/${action}`, { method: "POST" });
    } catch (error) {
      fill(problem, errorBox(error));
    }
  }

  async function saveHistory() {
    try {
      saveBlob(await fetchBlob(`/campaigns/${id}/history.csv`), `campaign-${id}.csv`);
    } catch (error) {
      fill(problem, errorBox(error));
    }
  }

  // Fetch the PNG once there is one, and again only when the record changed since: a round that tells
  // results draws the plot first, then updates the record.
  async function showPlot(campaign) {
    const key = campaign.updated_at;
    if (!campaign.has_plot || key === plotted) return;
    const blob = await fetchBlob(`/campaigns/${id}/plot`);
    if (plotUrl) URL.revokeObjectURL(plotUrl);
    plotUrl = URL.createObjectURL(blob);
    plot.src = plotUrl;
    plot.hidden = false;
    plotNote.hidden = true;
    plotted = key;
  }

  return {
    stop() {
      if (plotUrl) URL.revokeObjectURL(plotUrl);
    },
    async refresh() {
      try {
        const campaign = await request(`/campaigns/${id}`);
        const { counts } = campaign;
        const actions = (ACTIONS[campaign.status] || []).map((action) =>
          h(`button${action === "cancel" ? ".danger" : ""}`, { type: "button", onclick: () => act(action) }, action));
        fill(head,
          h("h1", {}, `Campaign ${campaign.name || campaign.kind} `, h("span.mono.muted", {}, shortId(campaign.id))),
          h("div.status-line", { dataset: { status: campaign.status } }, badge(campaign.status),
            progressBar(counts.planned ? (counts.completed + counts.failed) / counts.planned : 0, campaign.status),
            h("span.muted", {}, `${counts.completed}/${counts.planned} trials · ${counts.running} running · ${counts.failed} failed`),
            ...actions),
          h("p.muted", {}, `${campaign.kind} · ${objectives(campaign)} · batch ${campaign.batch_size} · created ${when(campaign.created_at)} · ended ${when(campaign.completed_at)}`),
          campaign.errors.length ? errorBox({ code: "errors", detail: campaign.errors.join("; ") }) : null);
        fill(best, bestCard(campaign));
        fill(trials, table(["#", "Status", "Parameters", "KPIs", campaign.workflow ? "Workflow" : "Execution", "Note"], trialRows(campaign.trials), "No trials yet."));
        await showPlot(campaign);
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}
