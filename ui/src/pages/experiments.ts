// experiments.ts - the list of experiments: search by name, show deleted
// ones, create, rename, delete and restore, and edit their tags.

import { api, type Experiment } from "../api";
import { h, clear } from "../dom";
import { fmtTime } from "../format";
import { quoteValue } from "../filter";
import { formatHash, withQuery, type Route } from "../route";
import type { PageContext } from "../page";

type R = Extract<Route, { page: "experiments" }>;

export async function experimentsPage(r: R, ctx: PageContext): Promise<void> {
  ctx.title("Experiments");
  const deleted = r.q.deleted === "1";
  const search = h("input.search", {
    type: "search",
    placeholder: "Search experiments by name",
    "aria-label": "Search experiments by name",
    value: r.q.q ?? "",
  }) as HTMLInputElement;
  search.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") ctx.go(withQuery(r, { q: search.value.trim() }));
  });
  const showDeleted = h("input", { type: "checkbox", id: "show-deleted", checked: deleted }) as HTMLInputElement;
  showDeleted.addEventListener("change", () => ctx.go(withQuery(r, { deleted: showDeleted.checked ? "1" : "" })));

  const newName = h("input", { type: "text", placeholder: "New experiment name", "aria-label": "New experiment name" }) as HTMLInputElement;
  const create = h("form.inline", h("span.grow"), newName, h("button", { type: "submit" }, "Create"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = newName.value.trim();
    if (!name) return;
    try {
      const { experiment_id } = await api.createExperiment(name);
      ctx.go({ page: "runs", experimentId: experiment_id, q: {} });
    } catch (err) {
      ctx.fail(err);
    }
  });

  const list = h("div.list", h("p.loading", "loading…"));
  ctx.el.append(
    h("div.page-head", h("h1", "Experiments")),
    h("div.toolbar", search, h("label.check", showDeleted, " show deleted"), create),
    list,
  );

  const filter = r.q.q ? `name LIKE ${quoteValue("%" + r.q.q + "%")}` : undefined;
  const exps: Experiment[] = [];
  let token: string | undefined;
  do {
    const res = await api.searchExperiments({
      filter,
      view_type: deleted ? "ALL" : "ACTIVE_ONLY",
      page_token: token,
      order_by: ["last_update_time DESC"],
    });
    exps.push(...(res.experiments ?? []));
    token = res.next_page_token;
  } while (token && exps.length < 10000 && ctx.live());
  if (!ctx.live()) return;

  clear(list);
  if (!exps.length) {
    list.append(h("p.empty", r.q.q ? `No experiment's name contains "${r.q.q}".` : "No experiments yet: create one above, or log a run with MLflow's client."));
    return;
  }
  const table = h("table.grid.experiments", h("thead", h("tr", h("th", "Name"), h("th", "ID"), h("th", "Created"), h("th", "Last update"), h("th", "Tags"), h("th", ""))));
  const body = h("tbody");
  for (const x of exps) body.append(row(x, ctx));
  table.append(body);
  list.append(table);
}

function row(x: Experiment, ctx: PageContext): HTMLElement {
  const gone = x.lifecycle_stage === "deleted";
  const tr = h("tr", { "data-id": x.experiment_id, class: gone ? "deleted" : "" });
  const nameCell = h("td", h("a", { href: formatHash({ page: "runs", experimentId: x.experiment_id, q: {} }) }, x.name));
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      ctx.reload();
    } catch (e) {
      ctx.fail(e);
    }
  };

  const rename = h("button.small", { type: "button", title: "Rename" }, "Rename");
  rename.addEventListener("click", () => {
    const input = h("input", { type: "text", value: x.name, "aria-label": "New name" }) as HTMLInputElement;
    const f = h("form.inline", input, h("button.small", { type: "submit" }, "Save"));
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (v && v !== x.name) void act(() => api.renameExperiment(x.experiment_id, v));
    });
    clear(nameCell);
    nameCell.append(f);
    input.focus();
    input.select();
  });
  const del = gone
    ? h("button.small", { type: "button", onclick: () => act(() => api.restoreExperiment(x.experiment_id)) }, "Restore")
    : h("button.small.danger", { type: "button", onclick: () => act(() => api.deleteExperiment(x.experiment_id)) }, "Delete");

  const tags = h("td.tags");
  for (const t of x.tags ?? []) {
    if (t.key.startsWith("mlflow.")) continue;
    tags.append(
      h(
        "span.chip",
        { title: `${t.key}=${t.value}` },
        `${t.key}=${t.value}`,
        h("button.chip-x", { type: "button", "aria-label": `Remove tag ${t.key}`, onclick: () => act(() => api.deleteExperimentTag(x.experiment_id, t.key)) }, "×"),
      ),
    );
  }
  const tagInput = h("input.tag-input", { type: "text", placeholder: "key=value", "aria-label": `Add a tag to ${x.name}` }) as HTMLInputElement;
  const tagForm = h("form.inline", tagInput);
  tagForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const v = tagInput.value;
    const eq = v.indexOf("=");
    if (eq < 1) {
      ctx.fail(new Error("a tag is written key=value"));
      return;
    }
    void act(() => api.setExperimentTag(x.experiment_id, v.slice(0, eq).trim(), v.slice(eq + 1)));
  });
  tags.append(tagForm);

  tr.append(
    nameCell,
    h("td.mono", x.experiment_id),
    h("td", fmtTime(x.creation_time)),
    h("td", fmtTime(x.last_update_time)),
    tags,
    h("td.actions", rename, del),
  );
  return tr;
}
