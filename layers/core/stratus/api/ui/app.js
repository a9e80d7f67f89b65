// The dashboard's entry point: sign-in, hash routes, and the ~2 s refresh of the page on show.
import { checkToken, onRefused, token } from "./api.js";
import { errorBox, fill, h } from "./dom.js";
import { algorithmPage, catalogPage } from "./algorithms.js";
import { campaignPage, campaignsPage } from "./campaigns.js";
import { filesPage } from "./files.js";
import { jobPage, jobsPage } from "./jobs.js";
import { workflowPage } from "./workflows.js";
import { workspacePage, workspacesPage } from "./workspaces.js";

const REFRESH_MS = 2000;
const ROUTES = [
  [/^\/?$/, "jobs", () => jobsPage],
  [/^\/executions\/([\w-]+)$/, "jobs", ([id]) => (view) => jobPage(view, "execution", id)],
  [/^\/training\/([\w-]+)$/, "jobs", ([id]) => (view) => jobPage(view, "training", id)],
  [/^\/workflows\/([\w-]+)$/, "jobs", ([id]) => (view) => workflowPage(view, id)],
  [/^\/algorithms$/, "algorithms", () => catalogPage],
  [/^\/algorithms\/([\w.-]+)\/(\d+)$/, "algorithms", ([name, major]) => (view) => algorithmPage(view, name, major)],
  [/^\/files$/, "files", () => filesPage],
  [/^\/campaigns$/, "campaigns", () => campaignsPage],
  [/^\/campaigns\/([\w-]+)$/, "campaigns", ([id]) => (view) => campaignPage(view, id)],
  [/^\/workspaces$/, "workspaces", () => workspacesPage],
  [/^\/workspaces\/([\w-]+)$/, "workspaces", ([id]) => (view) => workspacePage(view, id)],
];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signOutButton = document.getElementById("sign-out");
let current = null; // {stop(), refresh()} of the page on show
let timer = null;
let refusal = null; // why the last token was refused, shown on the sign-in form

function stopCurrent() {
  clearTimeout(timer);
  current?.stop?.();
  current = null;
}

// Refresh the page on show every REFRESH_MS, one refresh at a time, paused while the tab is hidden.
function schedule(page) {
  timer = setTimeout(async () => {
    if (page !== current) return;
    if (!document.hidden) await page.refresh?.().catch(() => {});
    if (page === current) schedule(page);
  }, REFRESH_MS);
}

function signInPage() {
  const input = h("textarea", {
    id: "token",
    name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: false,
    placeholder: "eyJ… (make dev prints one; POST /api/v0/tokens makes an API token)",
  });
  const problem = errorBox(refusal);
  const button = h("button.primary", { type: "submit" }, "Sign in");
  const form = h("form.card.sign-in", {
    onsubmit: async (event) => {
      event.preventDefault();
      const candidate = input.value.trim().replace(/^Bearer\s+/i, "");
      button.disabled = true;
      try {
        await checkToken(candidate);
        token.set(candidate);
        refusal = null;
        route();
      } catch (error) {
        problem.replaceWith(errorBox(error));
        button.disabled = false;
      }
    },
  },
  h("h1", {}, "Sign in"),
  h("p.muted", {}, "Paste a bearer token: an ID token of the user pool or an API token. It stays in this tab only."),
  h("label", { for: "token" }, "Token"), input, problem, button);
  fill(view, form);
  input.focus();
}

function signOut(reason = null) {
  token.clear();
  refusal = reason;
  route();
}

async function route() {
  stopCurrent();
  const signedIn = Boolean(token.get());
  nav.hidden = !signedIn;
  signOutButton.hidden = !signedIn;
  if (!signedIn) return signInPage();
  const path = location.hash.replace(/^#/, "");
  for (const [pattern, section, make] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of nav.querySelectorAll("a")) link.classList.toggle("active", link.dataset.nav === section);
    fill(view, h("p.muted", {}, "Loading…"));
    const page = make(match.slice(1))(view);
    current = page;
    await page.refresh?.().catch(() => {});
    if (page === current) schedule(page);
    return undefined;
  }
  fill(view, h("div.card", {}, h("h1", {}, "Not found"), h("p", {}, "No page here. "), h("a", { href: "#/" }, "Jobs")));
  return undefined;
}

onRefused((error) => signOut(error));
signOutButton.addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
route();
