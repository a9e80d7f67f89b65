// A workflow's page: its DAG with each step's state, the steps' table, and pause/resume/cancel.
import { request } from "./api.js";
import { drawDag } from "./dag.js";
import { badge, errorBox, fill, h, progressBar, shortId, table, when } from "./dom.js";

// The actions each workflow status allows (docs/api.md, Workflows).
const ACTIONS = {
  RUNNING: ["pause", "cancel"],
  PAUSED: ["resume", "cancel"],
  PENDING: ["start", "cancel"],
  FAILED: ["resume"],
};
const ROUTE_BY_TASK = { execution: "executions", training: "training" };

function taskHref(step) {
  return step.task_id ? `#/${ROUTE_BY_TASK[step.task_type]}/${step.task_id}` : null;
}

function stepRows(steps) {
  return steps.map((step) =>
    h("tr", { dataset: { step: step.step_id, status: step.status } },
      h("td", {}, step.step_id),
      h("td", {}, step.task_type),
      h("td", {}, badge(step.status)),
      h("td", {}, step.dependencies.join(", ") || "—"),
      h("td", {}, taskHref(step) ? h("a.mono", { href: taskHref(step) }, shortId(step.task_id)) : "—"),
      h("td", {}, String(step.retry_count)),
      h("td", {}, step.cached_from ? `cached from ${shortId(step.cached_from)}` : step.error_message ?? ""),
    ));
}

export function workflowPage(view, id) {
  const head = h("div.job-head");
  const problem = h("div");
  const graph = h("div.dag-box", { id: "dag" });
  const steps = h("div");
  fill(view, h("p", {}, h("a", { href: "#/" }, "← Jobs")), head, problem, h("h2", {}, "Steps"), graph, steps);
  let shown = "";

  async function act(action) {
    try {
      await request(`/workflows/${id}/${action}`, { method: "POST" });
      shown = "";
    } catch (error) {
      fill(problem, errorBox(error));
    }
  }

  return {
    async refresh() {
      try {
        const workflow = await request(`/workflows/${id}`);
        const actions = (ACTIONS[workflow.status] || []).map((action) =>
          h(`button${action === "cancel" ? ".danger" : ""}`, { type: "button", onclick: () => act(action) }, action));
        fill(head,
          h("h1", {}, `Workflow ${workflow.name} `, h("span.mono.muted", {}, shortId(workflow.id))),
          h("div.status-line", { dataset: { status: workflow.status } }, badge(workflow.status),
            progressBar(workflow.progress, workflow.status),
            h("span.muted", {}, `${workflow.completed_steps}/${workflow.total_steps} steps`), ...actions),
          h("p.muted", {}, `Created ${when(workflow.created_at)} · ended ${when(workflow.completed_at)}`),
          workflow.error_message ? errorBox({ code: "failed", detail: workflow.error_message }) : null);
        // Redraw the graph only when a state changed, so a hovered node does not flicker.
        const key = workflow.steps.map((s) => `${s.step_id}:${s.status}:${s.task_id}`).join("|");
        if (key !== shown) {
          shown = key;
          fill(graph, drawDag(workflow.steps.map((s) => ({
            id: s.step_id, dependsOn: s.dependencies, status: s.status, href: taskHref(s),
          }))));
        }
        fill(steps, table(["Step", "Kind", "Status", "Depends on", "Job", "Retries", "Note"], stepRows(workflow.steps)));
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}
