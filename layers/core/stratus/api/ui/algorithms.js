// The algorithm catalog, and one algorithm's page: a parameter form generated from its JSON schema
// that starts an execution on READY files.
import { request } from "./api.js";
import { bytes, errorBox, fill, h, shortId, when } from "./dom.js";

export function catalogPage(view) {
  const list = h("div.cards", { id: "catalog" });
  const problem = h("div");
  fill(view, h("h1", {}, "Algorithms"), problem, list);
  let loaded = false;
  return {
    async refresh() {
      if (loaded) return;
      try {
        const algorithms = await request("/algorithm/all");
        loaded = true;
        fill(list, algorithms.map((a) =>
          h("a.card.algorithm", { href: `#/algorithms/${a.algorithm_name}/${a.algorithm_version}`, dataset: { name: a.algorithm_name } },
            h("h3", {}, a.algorithm_name, " ", h("span.muted", {}, `v${a.algorithm_version}.${a.latest_algorithm_minor_version}`)),
            h("p", {}, a.algorithm_description),
            h("p.tags", {}, a.builtin ? h("span.tag.builtin", {}, "built-in") : h("span.tag", {}, "yours"),
              a.algorithm_tags.filter((t) => t !== "builtin").map((t) => h("span.tag", {}, t)),
              a.supported_devices.map((d) => h("span.tag.device", {}, d))))));
        if (!algorithms.length) fill(list, h("p.muted", {}, "No algorithms deployed."));
      } catch (error) {
        fill(problem, errorBox(error));
      }
    },
  };
}

// One input for one schema property; read(input) gives the value to send (workspaces.js uses it too).
export function field(name, schema) {
  const id = `parameter-${name}`;
  const common = { id, name };
  let input;
  let read;
  if (schema.enum) {
    input = h("select", common, schema.enum.map((option) =>
      h("option", { value: JSON.stringify(option), selected: option === schema.default }, String(option))));
    read = () => JSON.parse(input.value);
  } else if (schema.type === "boolean") {
    input = h("input", { ...common, type: "checkbox", checked: schema.default === true });
    read = () => input.checked;
  } else if (schema.type === "integer" || schema.type === "number") {
    const integer = schema.type === "integer";
    input = h("input", {
      ...common, type: "number", required: true,
      min: schema.minimum ?? undefined, max: schema.maximum ?? undefined,
      step: schema["x-step"] ?? (integer ? "1" : "any"),
      value: schema.default ?? undefined,
    });
    read = () => (integer ? parseInt(input.value, 10) : parseFloat(input.value));
  } else if (schema.type === "array") {
    const numeric = ["integer", "number"].includes(schema.items?.type);
    input = h("input", { ...common, type: "text", value: (schema.default || []).join(", "), placeholder: "comma-separated" });
    read = () => input.value.split(",").map((s) => s.trim()).filter(Boolean).map((s) => (numeric ? Number(s) : s));
  } else {
    input = h("input", { ...common, type: "text", value: schema.default ?? "" });
    read = () => input.value;
  }
  const range = schema.minimum !== undefined && schema.minimum !== null ? ` (${schema.minimum} to ${schema.maximum})` : "";
  const label = h("label", { for: id }, schema.title || name, h("span.muted", {}, range));
  return { name, read, element: h("div.field", {}, label, input, schema.description ? h("small.muted", {}, schema.description) : null) };
}

// Checkboxes (name=input) for the READY files `files`, or a note when there are none.
export function filePicker(files) {
  if (!files.length) return h("p.muted.empty", {}, "No READY files: upload one under Files first.");
  return h("div.file-picker", { id: "inputs" }, files.map((file) =>
    h("label.check", {}, h("input", { type: "checkbox", name: "input", value: file.file_id }),
      h("span.mono", {}, file.file_id), h("span.muted", {}, ` ${bytes(file.size)} · ${when(file.time_created)}`))));
}

export function algorithmPage(view, name, major) {
  const body = h("div");
  fill(view, h("p", {}, h("a", { href: "#/algorithms" }, "← Algorithms")), body);
  let loaded = false;

  async function render() {
    const [algorithm, files] = await Promise.all([
      request(`/algorithm/${encodeURIComponent(name)}/${major}`),
      request("/files?status=READY&limit=100"),
    ]);
    const properties = algorithm.parameter_schema?.properties || {};
    const fields = Object.entries(properties).map(([key, schema]) => field(key, schema));
    const devices = h("select", { id: "device", name: "device" },
      h("option", { value: "" }, `default (${algorithm.default_device})`),
      algorithm.supported_devices.map((d) => h("option", { value: d }, d)));
    const problem = errorBox(null);
    const submit = h("button.primary", { type: "submit" }, "Run");
    const form = h("form.card", {
      id: "run-form",
      onsubmit: async (event) => {
        event.preventDefault();
        const inputs = [...form.querySelectorAll("input[name=input]:checked")].map((box) => box.value);
        const payload = {
          algorithm_id: algorithm.algorithm_id,
          input_dataset_ids: inputs,
          additional_parameters: Object.fromEntries(fields.map((f) => [f.name, f.read()])),
        };
        if (devices.value) payload.execution_device_override = devices.value;
        submit.disabled = true;
        try {
          const started = await request("/execute-algorithm", { method: "POST", body: payload });
          location.hash = `#/executions/${started.execution_id}`;
        } catch (error) {
          const shown = errorBox(error);
          form.querySelector(".error").replaceWith(shown);
          submit.disabled = false;
        }
      },
    },
    h("h2", {}, "Parameters"),
    fields.length ? fields.map((f) => f.element) : h("p.muted", {}, "This algorithm takes no parameters."),
    h("div.field", {}, h("label", { for: "device" }, "Device"), devices),
    h("h2", {}, "Input files"), filePicker(files.items),
    problem, submit);
    fill(body,
      h("h1", {}, algorithm.algorithm_name, " ", h("span.muted", {}, `v${algorithm.algorithm_version}.${algorithm.latest_algorithm_minor_version}`)),
      h("p", {}, algorithm.algorithm_description),
      h("p.muted", {}, `${algorithm.builtin ? "Built-in" : "Yours"} · ${algorithm.algorithm_type} · id `, h("span.mono", {}, shortId(algorithm.algorithm_id))),
      form);
  }

  return {
    async refresh() {
      // The form is built once; refreshing it would wipe what the user typed.
      if (loaded) return;
      try {
        await render();
        loaded = true;
      } catch (error) {
        fill(body, errorBox(error));
      }
    },
  };
}
