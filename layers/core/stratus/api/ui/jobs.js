// Jobs: the list of executions, trainings and workflows, and one job's page with its log following.
import { downloadFile, request } from "./api.js";
import { badge, errorBox, fill, h, isFinal, progressBar, shortId, table, when } from "./dom.js";

const LIST_LIMIT = 20;
const LOG_PAGE = 1000;
const KINDS = {
  execution: { path: "executions", id: "execution_id", route: "executions", title: "Execution" },
  training: { path: "training", id: "training_id", route: "training", title: "Training" },
};

// Algorithm names by id, loaded once per page view (ids are what jobs carry).
let algorithmNames = null;
export async function algorithmName(id) {
  if (!algorithmNames) {
    const listed = await request("/algorithm/all");
    algorithmNames = new Map(listed.map((a) => [a.algorithm_id, `${a.algorithm_name} ${a.algorithm_version}`]));
  }
  return algorithmNames.get(id) ?? shortId(id);
}

async function jobRows(kind, items) {
  const { id, route } = KINDS[kind];
  return Promise.all(
    items.map(async (job) =>
      h(
        "tr",
        { dataset: { id: job[id], status: job.status, kind } },
        h("td", {}, h("a.mono", { href: `#/${route}/${job[id]}` }, shortId(job[id]))),
        h("td", {}, await algorithmName(job.algorithm_id)),
        h("td", {}, badge(job.status)),
        h("td.wide", {}, progressBar(job.progress, job.status)),
        h("td", {}, when(job.time_created)),
        h("td", {}, when(job.time_completed)),
      ),
    ),
  );
}

function workflowRows(items) {
  return items.map((workflow) =>
    h(
      "tr",
      { dataset: { id: workflow.id, status: workflow.status, kind: "workflow" } },
      h("td", {}, h("a", { href: `#/workflows/${workflow.id}` }, workflow.name), " ", h("span.mono.muted", {}, shortId(workflow.id))),
      h("td", {}, `${workflow.completed_steps}/${workflow.total_steps} steps`),
      h("td", {}, badge(workflow.status)),
      h("td.wide", {}, progressBar(workflow.progress, workflow.status)),
      h("td", {}, when(workflow.created_at)),
      h("td", {}, when(workflow.completed_at)),
    ),
  );
}

const JOB_HEADINGS = ["Id", "Algorithm", "Status", "Progress", "Created", "Ended"];

export function jobsPage(view) {
  const sections = {
    executions: h("section"),
    trainings: h("section"),
    workflows: h("section"),
  };
  for (const [key, section] of Object.entries(sections)) section.id = key;
  const problem = h("div");
  fill(view, h("h1", {}, "Jobs"), problem, sections.executions, sections.trainings, sections.workflows);
  return {
    async refresh() {
      try {
        const [executions, trainings, workflows] = await Promise.all([
          request(`/executions?limit=${LIST_LIMIT}`),
          request(`/training?limit=${LIST_LIMIT}`),
          request(`/workflows?limit=${LIST_LIMIT}`),
        ]);
        fill(sections.executions, h("h2", {}, "Executions"),
          table(JOB_HEADINGS, await jobRows("execution", executions.items), "No executions yet: run one from Algorithms."));
        fill(sections.trainings, h("h2", {}, "Trainings"),
          table(JOB_HEADINGS, await jobRows("training", trainings.items), "No trainings yet."));
        fill(sections.workflows, h("h2", {}, "Workflows"),
          table(["Workflow", "Steps", "Status", "Progress", "Created", "Ended"], workflowRows(workflows.items), "No workflows yet."));
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}

// The file ids, each with a download button when ``onError`` (where a failed download is shown) is given.
function fileList(ids, onError) {
  if (!ids?.length) return "—";
  return h("ul.plain", {}, ids.map((id) =>
    h("li", {}, h("span.mono", {}, id), onError
      ? h("button.link", { type: "button", onclick: () => downloadFile(id).catch(onError) }, "download")
      : null)));
}

function facts(kind, job, name, onError) {
  const rows = [
    ["Algorithm", `${name} (minor ${job.algorithm_minor_version ?? "latest"})`],
    ["Device", job.resolved_execution_device ?? job.resolved_device ?? "—"],
    ["Parameters", h("code", {}, JSON.stringify(job.additional_parameters))],
    ["Created", when(job.time_created)],
    ["Started", when(job.time_started)],
    ["Ended", when(job.time_completed)],
  ];
  if (kind === "execution") {
    rows.push(["Inputs", fileList(job.input_dataset_ids, null)], ["Outputs", fileList(job.output_dataset_ids, onError)]);
  } else {
    rows.push(
      ["Steps", `${job.current_step ?? 0} / ${job.total_steps ?? 0}`],
      ["Rounds", (job.rounds || []).map((r) => `#${r.index} ${r.status}`).join(", ") || "—"],
      ["Best checkpoint", h("span.mono", {}, job.best_checkpoint_id ?? "—")],
    );
  }
  return h("dl.facts", {}, rows.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function jobPage(view, kind, id) {
  const { path, title } = KINDS[kind];
  const head = h("div.job-head");
  const details = h("div");
  const problem = h("div");
  const log = h("pre.log", { id: "log", "aria-live": "polite" });
  const logState = h("span.muted");
  fill(view, h("p", {}, h("a", { href: "#/" }, "← Jobs")), head, problem, details,
    h("h2", {}, "Log ", logState), log);
  let nextLine = 0;
  let ended = false;
  let following = true;

  async function followLog() {
    // Page through everything new, by the cursor the logs endpoint answers.
    for (;;) {
      const page = await request(`/${path}/${id}/logs?from_line=${nextLine}&limit=${LOG_PAGE}`);
      if (page.lines.length) {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.append(page.lines.map((l) => `${l.text}\n`).join(""));
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
      nextLine = page.next_line;
      if (page.lines.length < LOG_PAGE) return;
    }
  }

  async function stop() {
    try {
      await request(`/${path}/${id}/stop`, { method: "POST" });
    } catch (error) {
      fill(problem, errorBox(error));
    }
  }

  return {
    async refresh() {
      if (!following) return;
      try {
        const job = await request(`/${path}/${id}`);
        const name = await algorithmName(job.algorithm_id);
        const final = isFinal(job.status);
        fill(head,
          h("h1", {}, `${title} `, h("span.mono", {}, id)),
          h("div.status-line", { dataset: { status: job.status } }, badge(job.status), progressBar(job.progress, job.status),
            final ? null : h("button.danger", { type: "button", onclick: stop }, "Stop")));
        fill(details, facts(kind, job, name, (error) => fill(problem, errorBox(error))),
          job.error ? errorBox({ code: job.error.type, detail: job.error.message }) : null);
        await followLog();
        // The final status was read before this last page: nothing more will be written.
        if (ended) following = false;
        ended = final;
        fill(logState, following ? "(following)" : `(${nextLine} lines)`);
        fill(problem);
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}
