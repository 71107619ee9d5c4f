// main.ts - the shell: header and navigation, light and dark themes, the
// error banner, and the router that draws the page the hash names.

import "./style.css";
import { h, clear } from "./dom";
import { parseHash, formatHash, type Route } from "./route";
import { ApiError } from "./api";
import type { Mounted, Page, PageContext } from "./page";
import { experimentsPage } from "./pages/experiments";
import { runsPage } from "./pages/runs";
import { runPage } from "./pages/run";
import { comparePage } from "./pages/compare";
import { modelsPage, modelPage, versionPage } from "./pages/models";
import { monitorsPage } from "./pages/monitors";
import { deploymentsPage } from "./pages/deployments";

const pages: Record<Route["page"], Page<never>> = {
  experiments: experimentsPage,
  runs: runsPage,
  run: runPage,
  compare: comparePage,
  models: modelsPage,
  model: modelPage,
  version: versionPage,
  monitors: monitorsPage,
  deployments: deploymentsPage,
  notfound: notFound,
};

async function notFound(r: Route, ctx: PageContext): Promise<void> {
  ctx.title("Not found");
  ctx.el.append(
    h("h1", "No such page"),
    h("p", "There is no page at ", h("code", "#" + (r.page === "notfound" ? r.path : "")), ". ", h("a", { href: "#/experiments" }, "See the experiments.")),
  );
}

// ---- theme ----

type Theme = "light" | "dark";
function preferredTheme(): Theme {
  const saved = localStorage.getItem("cairn-theme");
  if (saved === "light" || saved === "dark") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
function applyTheme(t: Theme): void {
  document.documentElement.dataset.theme = t;
}

// ---- shell ----

const banner = h("div.banner", { role: "alert", hidden: true });
const main = h("main", { id: "page", tabindex: -1 });
const navLinks: Record<string, HTMLElement> = {
  experiments: h("a", { href: "#/experiments" }, "Experiments"),
  models: h("a", { href: "#/models" }, "Models"),
  deployments: h("a", { href: "#/deployments" }, "Deployments"),
  monitors: h("a", { href: "#/monitors" }, "Monitors"),
};
const themeButton = h("button.theme", { type: "button", title: "Switch between light and dark" });

function showTheme(): void {
  const t = document.documentElement.dataset.theme as Theme;
  themeButton.textContent = t === "dark" ? "☀ Light" : "☾ Dark";
  themeButton.setAttribute("aria-label", t === "dark" ? "Use the light theme" : "Use the dark theme");
}
themeButton.addEventListener("click", () => {
  const t: Theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("cairn-theme", t);
  applyTheme(t);
  showTheme();
});

function fail(e: unknown): void {
  const msg = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  clear(banner);
  banner.append(
    h("span.banner-text", msg),
    h("button.banner-close", { type: "button", "aria-label": "Dismiss", onclick: () => (banner.hidden = true) }, "×"),
  );
  banner.hidden = false;
  banner.dataset.code = e instanceof ApiError ? e.code : "ERROR";
}

let current: { route: Route; mounted: Mounted | void; token: number } | null = null;
let token = 0;

function sameKind(a: Route, b: Route): boolean {
  return formatHash({ ...a, q: {} } as Route) === formatHash({ ...b, q: {} } as Route);
}

async function render(): Promise<void> {
  const route = parseHash(location.hash || "#/experiments");
  if (current && current.mounted && current.mounted.update && sameKind(current.route, route) && current.mounted.update(route)) {
    current.route = route;
    return;
  }
  current?.mounted?.leave?.();
  const mine = ++token;
  banner.hidden = true;
  clear(main);
  main.setAttribute("aria-busy", "true");
  for (const [k, a] of Object.entries(navLinks)) {
    const on =
      (k === "experiments" && ["experiments", "runs", "run", "compare"].includes(route.page)) ||
      (k === "models" && ["models", "model", "version"].includes(route.page)) ||
      (k === "monitors" && route.page === "monitors") ||
      (k === "deployments" && route.page === "deployments");
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const ctx: PageContext = {
    el: main,
    go: (r, replace) => {
      const hash = formatHash(r);
      if (hash === location.hash) return;
      if (replace) history.replaceState(null, "", hash);
      else history.pushState(null, "", hash);
      void render();
    },
    fail: (e) => {
      if (mine === token) fail(e);
    },
    reload: () => {
      if (mine !== token) return;
      const was = current;
      current = null;
      was?.mounted?.leave?.();
      void render();
    },
    title: (t) => (document.title = `${t} · cairn`),
    live: () => mine === token,
  };
  current = { route, mounted: undefined, token: mine };
  try {
    const m = await (pages[route.page] as Page)(route, ctx);
    if (mine === token) current.mounted = m;
    else m?.leave?.();
  } catch (e) {
    if (mine === token) {
      fail(e);
      if (!main.firstChild) main.append(h("p.empty", "This page could not be shown: see the message above."));
    }
  } finally {
    if (mine === token) main.removeAttribute("aria-busy");
  }
}

function start(): void {
  applyTheme(preferredTheme());
  showTheme();
  const app = document.getElementById("app")!;
  clear(app);
  app.append(
    h(
      "header.top",
      h("a.brand", { href: "#/experiments", "aria-label": "cairn home" }, "cairn"),
      h("nav", { "aria-label": "Main" }, ...Object.values(navLinks)),
      h("span.spacer"),
      themeButton,
    ),
    banner,
    main,
  );
  window.addEventListener("hashchange", () => void render());
  window.addEventListener("unhandledrejection", (e) => fail(e.reason));
  void render();
}

start();
