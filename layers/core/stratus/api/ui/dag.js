// A workflow's DAG as SVG: a layered layout (each step one layer right of its deepest dependency),
// the order within a layer by the mean position of its dependencies to keep edges from crossing.
const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 150;
const NODE_H = 46;
const GAP_X = 70;
const GAP_Y = 22;
const PAD = 12;

// steps: [{id, dependsOn: [...]}] → {layers: [[id…]…], position: Map(id → {x, y})}
export function layout(steps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map();
  const visit = (id, trail = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (trail.has(id)) return 0; // a cycle cannot be created; never loop on bad data
    trail.add(id);
    const deps = (byId.get(id)?.dependsOn || []).filter((d) => byId.has(d));
    const value = deps.length ? 1 + Math.max(...deps.map((d) => visit(d, trail))) : 0;
    depth.set(id, value);
    return value;
  };
  steps.forEach((s) => visit(s.id));
  const layers = [];
  for (const step of steps) (layers[depth.get(step.id)] ||= []).push(step.id);
  // One sweep left to right: order each layer by the mean index of its dependencies in earlier layers.
  const index = new Map();
  layers.forEach((layer, number) => {
    if (number > 0) {
      const weight = (id) => {
        const deps = byId.get(id).dependsOn.filter((d) => index.has(d));
        return deps.length ? deps.reduce((sum, d) => sum + index.get(d), 0) / deps.length : 0;
      };
      layer.sort((a, b) => weight(a) - weight(b));
    }
    layer.forEach((id, i) => index.set(id, i));
  });
  const tallest = Math.max(1, ...layers.map((l) => l.length));
  const position = new Map();
  layers.forEach((layer, number) => {
    const offset = ((tallest - layer.length) * (NODE_H + GAP_Y)) / 2;
    layer.forEach((id, i) => {
      position.set(id, { x: PAD + number * (NODE_W + GAP_X), y: PAD + offset + i * (NODE_H + GAP_Y) });
    });
  });
  const width = PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X;
  const height = PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y;
  return { layers, position, width, height };
}

function node(tag, attributes, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

// steps: [{id, dependsOn, status, href}] → an <svg> with one <g class="node"> per step.
export function drawDag(steps) {
  const { position, width, height } = layout(steps);
  const svg = node("svg", { class: "dag", viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  svg.append(node("title", {}, "Workflow steps and their dependencies"));
  const marker = node("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(node("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  const defs = node("defs", {});
  defs.append(marker);
  svg.append(defs);
  for (const step of steps) {
    const to = position.get(step.id);
    for (const dep of step.dependsOn) {
      const from = position.get(dep);
      if (!from) continue;
      const x1 = from.x + NODE_W;
      const y1 = from.y + NODE_H / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_H / 2;
      const bend = GAP_X / 2;
      svg.append(node("path", {
        class: "edge", d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
        "marker-end": "url(#arrow)", "data-from": dep, "data-to": step.id,
      }));
    }
  }
  for (const step of steps) {
    const { x, y } = position.get(step.id);
    const status = String(step.status || "PENDING");
    const group = node("g", { class: `node status-${status.toLowerCase()}`, "data-step": step.id, "data-status": status, transform: `translate(${x},${y})` });
    group.append(node("title", {}, `${step.id}: ${status}`));
    group.append(node("rect", { width: NODE_W, height: NODE_H, rx: 8 }));
    const label = step.id.length > 20 ? `${step.id.slice(0, 19)}…` : step.id;
    group.append(node("text", { x: 10, y: 19, class: "name" }, label));
    group.append(node("text", { x: 10, y: 36, class: "state" }, status));
    if (step.href) {
      const link = node("a", { href: step.href });
      link.append(group);
      svg.append(link);
    } else {
      svg.append(group);
    }
  }
  return svg;
}
