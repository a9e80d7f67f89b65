// Workspaces: the list (create, rename, copy, delete), and one workspace's page: its scenarios with
// Run / Reset / Delete as the status allows, and a form that saves a new scenario.
import { request } from "./api.js";
import { field, filePicker } from "./algorithms.js";
import { badge, errorBox, fill, h, isFinal, progressBar, shortId, table, when } from "./dom.js";

// A scenario is CREATED until it runs, then its execution's status (docs/workspaces.md).
const LIVE = new Set(["PENDING", "STARTED", "RUNNING"]);

// The actions each scenario status allows: Run only when CREATED, Reset once its execution ended
// (a no-op when CREATED, so not offered), Delete at any time.
function scenarioActions(status) {
  if (status === "CREATED") return ["run", "delete"];
  if (isFinal(status)) return ["reset", "delete"];
  return ["delete"];
}

function countScenarios(count) {
  return `${count} scenario${count === 1 ? "" : "s"}`;
}

function number(value) {
  return typeof value === "number" ? String(+value.toPrecision(6)) : String(value);
}

function parameterText(parameters) {
  const entries = Object.entries(parameters || {});
  return entries.length ? entries.map(([name, value]) => `${name}=${number(value)}`).join(", ") : "—";
}

function kpiText(kpis) {
  const entries = Object.values(kpis || {});
  return entries.length ? entries.map((k) => `${k.name}=${number(k.value)}${k.unit ? ` ${k.unit}` : ""}`).join(", ") : "—";
}

// Refreshes overlap (the 2 s loop, and one right after an action): each call of the returned function
// takes a ticket, and is current() only while no later one started, so a late answer never paints over
// a newer one (a Reset's CREATED with the COMPLETED read just before it).
function newestOnly() {
  let latest = 0;
  return () => {
    const ticket = ++latest;
    return () => ticket === latest;
  };
}

// One link-style button per action (data-action names it); delete in red.
function actionButtons(actions, onClick) {
  return h("td.actions", {}, actions.map((action) =>
    h(`button.link${action === "delete" ? ".danger" : ""}`, { type: "button", dataset: { action }, onclick: () => onClick(action) }, action)));
}

// Replace the form's error box with `error`'s (or hide it).
function showError(form, error) {
  form.querySelector(".error").replaceWith(errorBox(error));
}

// The one open rename/copy/delete panel of the list page, above the list (the list is redrawn every
// refresh, so an input inside it would lose what the user typed).
function actionPanel(action, workspace, done) {
  const asks = action !== "delete";
  const name = h("input", {
    id: "action-name", name: "display_name", type: "text", required: true, maxlength: 100,
    value: action === "copy" ? `${workspace.display_name} copy` : workspace.display_name,
  });
  const titles = {
    rename: `Rename “${workspace.display_name}”`,
    copy: `Copy “${workspace.display_name}” with its ${countScenarios(workspace.scenario_count)} (the data is shared)`,
    delete: `Delete “${workspace.display_name}” and its ${countScenarios(workspace.scenario_count)}? Their executions stay.`,
  };
  const submit = h(`button${action === "delete" ? ".danger" : ".primary"}`, { type: "submit", dataset: { action } }, action);
  const form = h("form.card.workspace-action", {
    id: "workspace-action",
    dataset: { action, id: workspace.id },
    onsubmit: async (event) => {
      event.preventDefault();
      submit.disabled = true;
      const path = `/workspaces/${workspace.id}`;
      const body = { display_name: name.value };
      try {
        if (action === "rename") await request(path, { method: "PATCH", body });
        else if (action === "copy") await request(`${path}/copy`, { method: "POST", body });
        else await request(path, { method: "DELETE" });
        await done(true);
      } catch (error) {
        showError(form, error);
        submit.disabled = false;
      }
    },
  },
  h("h3", {}, titles[action]),
  asks ? h("div.field", {}, h("label", { for: "action-name" }, action === "copy" ? "Name of the copy" : "New name"), name) : null,
  errorBox(null),
  h("div.buttons", {}, submit, h("button", { type: "button", onclick: () => done(false) }, "cancel")));
  return { form, focus: () => (asks ? name.select() : submit.focus()) };
}

export function workspacesPage(view) {
  const name = h("input", {
    id: "workspace-name", name: "display_name", type: "text", required: true, maxlength: 100, placeholder: "a name, unique among yours",
  });
  const create = h("form.card.inline-form", {
    id: "workspace-create",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await request("/workspaces", { method: "POST", body: { display_name: name.value } });
        name.value = "";
        showError(create, null);
        await page.refresh();
      } catch (error) {
        showError(create, error);
      }
    },
  },
  h("label", { for: "workspace-name" }, "New workspace"), name, h("button.primary", { type: "submit" }, "Create"), errorBox(null));
  const panel = h("div");
  const problem = h("div");
  const list = h("div", { id: "workspaces" });
  fill(view, h("h1", {}, "Workspaces"), create, panel, problem, list);

  function open(action, workspace) {
    const shown = actionPanel(action, workspace, async (changed) => {
      fill(panel);
      if (changed) await page.refresh();
    });
    fill(panel, shown.form);
    shown.focus();
  }

  function row(workspace, isDefault) {
    const count = workspace.scenario_count;
    return h("tr", { dataset: { id: workspace.id, name: workspace.display_name, scenarios: count, default: isDefault } },
      h("td", {}, h("a", { href: `#/workspaces/${workspace.id}` }, workspace.display_name), " ",
        isDefault ? h("span.tag.builtin", {}, "default") : null, " ", h("span.mono.muted", {}, shortId(workspace.id))),
      h("td", {}, String(count)),
      h("td", {}, when(workspace.created_at)),
      actionButtons(["rename", "copy", "delete"], (action) => open(action, workspace)));
  }

  const start = newestOnly();
  const page = {
    async refresh() {
      const current = start();
      try {
        const listing = await request("/workspaces");
        if (!current()) return;
        fill(list, table(["Workspace", "Scenarios", "Created", ""],
          listing.workspaces.map((w) => row(w, w.id === listing.default))));
        fill(problem);
      } catch (error) {
        if (current()) fill(problem, errorBox(error));
      }
    },
  };
  return page;
}

function algorithmName(catalog, algorithmId) {
  const algorithm = catalog.find((a) => a.algorithm_id === algorithmId);
  return algorithm ? `${algorithm.algorithm_name} v${algorithm.algorithm_version}` : shortId(algorithmId);
}

// The "New scenario" form: built once (a refresh would wipe what the user typed); the parameter fields
// follow the chosen algorithm's schema.
function scenarioForm(id, catalog, files, created) {
  const tag = h("input", {
    id: "scenario-tag", name: "tag", type: "text", required: true, maxlength: 100, placeholder: "unique in this workspace",
  });
  const algorithm = h("select", { id: "scenario-algorithm", name: "algorithm" }, catalog.map((a) =>
    h("option", { value: a.algorithm_id }, `${a.algorithm_name} v${a.algorithm_version}`)));
  const parameters = h("div", { id: "scenario-parameters" });
  let fields = [];
  function showFields() {
    const chosen = catalog.find((a) => a.algorithm_id === algorithm.value);
    fields = Object.entries(chosen?.parameter_schema?.properties || {}).map(([key, schema]) => field(key, schema));
    fill(parameters, fields.length ? fields.map((f) => f.element) : h("p.muted", {}, "This algorithm takes no parameters."));
  }
  algorithm.addEventListener("change", showFields);
  showFields();
  const submit = h("button.primary", { type: "submit" }, "Create");
  const form = h("form.card", {
    id: "scenario-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const payload = {
        tag: tag.value,
        algorithm_id: algorithm.value,
        dataset_ids: [...form.querySelectorAll("input[name=input]:checked")].map((box) => box.value),
        parameters: Object.fromEntries(fields.map((f) => [f.name, f.read()])),
      };
      submit.disabled = true;
      try {
        await request(`/workspaces/${id}/scenarios`, { method: "POST", body: payload });
        tag.value = ""; // tags are unique in the workspace: the next scenario needs its own
        showError(form, null);
        await created();
      } catch (error) {
        showError(form, error);
      } finally {
        submit.disabled = false;
      }
    },
  },
  h("h2", {}, "New scenario"),
  h("div.field", {}, h("label", { for: "scenario-tag" }, "Tag"), tag),
  h("div.field", {}, h("label", { for: "scenario-algorithm" }, "Algorithm"), algorithm),
  h("h3", {}, "Parameters"), parameters,
  h("h3", {}, "Datasets"), filePicker(files),
  errorBox(null), submit);
  return form;
}

function scenarioRow(scenario, catalog, act) {
  const { status, execution_id: execution } = scenario;
  return h("tr", { dataset: { id: scenario.id, tag: scenario.tag, status } },
    h("td", {}, scenario.tag),
    h("td", {}, algorithmName(catalog, scenario.algorithm_id)),
    h("td", {}, parameterText(scenario.parameters)),
    h("td.wide", {}, badge(status), LIVE.has(status) ? progressBar(scenario.progress, status) : null),
    h("td.kpis", {}, kpiText(scenario.kpis), scenario.error ? h("small.muted", {}, ` ${scenario.error.message}`) : null),
    h("td", {}, execution ? h("a.mono", { href: `#/executions/${execution}` }, shortId(execution)) : "—"),
    actionButtons(scenarioActions(status), (action) => act(scenario, action)));
}

export function workspacePage(view, id) {
  const head = h("div.job-head");
  const problem = h("div"); // why the last refresh failed; cleared by the next one
  const refused = h("div", { id: "action-error" }); // why the last Run/Reset/Delete was refused; kept until the next
  const scenarios = h("div", { id: "scenarios" });
  const form = h("div");
  fill(view, h("p", {}, h("a", { href: "#/workspaces" }, "← Workspaces")), head, problem,
    h("h2", {}, "Scenarios"), refused, scenarios, form);
  let catalog = null; // the algorithms, fetched once: names for the table, schemas for the form
  const start = newestOnly();

  async function act(scenario, action) {
    const path = `/workspaces/${id}/scenarios/${scenario.id}`;
    fill(refused);
    try {
      if (action === "delete") await request(path, { method: "DELETE" });
      else await request(`${path}/${action}`, { method: "POST" });
    } catch (error) {
      fill(refused, errorBox(error));
    }
    await page.refresh();
  }

  const page = {
    async refresh() {
      const current = start();
      try {
        // The scenarios first: an unknown (or another tenant's) workspace answers its 404 here.
        const [listed, listing] = await Promise.all([request(`/workspaces/${id}/scenarios`), request("/workspaces")]);
        if (!catalog) {
          const [algorithms, files] = await Promise.all([request("/algorithm/all"), request("/files?status=READY&limit=100")]);
          catalog = algorithms;
          fill(form, scenarioForm(id, catalog, files.items, () => page.refresh()));
        }
        if (!current()) return;
        const workspace = listing.workspaces.find((w) => w.id === id);
        fill(head,
          h("h1", {}, `Workspace ${workspace?.display_name ?? ""} `, h("span.mono.muted", {}, shortId(id))),
          h("p.muted", {}, `${countScenarios(listed.scenarios.length)} · created ${when(workspace?.created_at)}`,
            id === listing.default ? " · the default workspace" : ""));
        fill(scenarios, table(["Tag", "Algorithm", "Parameters", "Status", "KPIs", "Execution", ""],
          listed.scenarios.map((s) => scenarioRow(s, catalog, act)), "No scenarios yet: save one below."));
        fill(problem);
      } catch (error) {
        if (current()) fill(problem, errorBox(error));
      }
    },
  };
  return page;
}
