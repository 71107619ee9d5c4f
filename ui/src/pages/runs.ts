// runs.ts - the runs of an experiment: a virtually scrolled table with the
// columns the user picks, sorting on any of them, the MLflow filter grammar
// (the server's own message when a filter is wrong), nested runs under their
// parent (a pipeline run's stages under it), grouping by a param or tag with
// each group's mean, min and max, and a selection to compare.

import { api, num, type Run } from "../api";
import { h, clear } from "../dom";
import { fmtNum, fmtTime, fmtDuration } from "../format";
import { parseColumns, formatColumns, parseSort, formatSort, orderBy, columnId, parseColumn, type Column } from "../filter";
import { formatHash, withQuery, type Route } from "../route";
import { VirtualTable, type TableColumn } from "../table";
import type { PageContext, Mounted } from "../page";

type R = Extract<Route, { page: "runs" }>;

const FIRST_PAGE = 100; // the first rows come fast...
const NEXT_PAGE = 1000; // ...the rest in bigger pages as the user scrolls
const DEFAULT_SORT = "-attributes.start_time";

type Row =
  | { kind: "run"; run: Run; depth: number; kids: number; open: boolean }
  | { kind: "group"; value: string; runs: Run[]; open: boolean };

export function tagOf(run: Run, key: string): string | undefined {
  return run.data.tags?.find((t) => t.key === key)?.value;
}

export function valueOf(run: Run, c: Column): string | number | undefined {
  switch (c.kind) {
    case "metrics": {
      const m = run.data.metrics?.find((x) => x.key === c.key);
      return m === undefined ? undefined : num(m.value);
    }
    case "params":
      return run.data.params?.find((x) => x.key === c.key)?.value;
    case "tags":
      return tagOf(run, c.key);
    case "attributes": {
      const i = run.info as unknown as Record<string, unknown>;
      if (c.key === "duration") return run.info.end_time && run.info.start_time ? run.info.end_time - run.info.start_time : undefined;
      const v = i[c.key];
      return v === undefined || v === null ? undefined : (v as string | number);
    }
  }
}

export function runName(run: Run): string {
  return run.info.run_name || tagOf(run, "mlflow.runName") || run.info.run_id.slice(0, 8);
}

function statusBadge(run: Run): HTMLElement {
  const result = tagOf(run, "cairn.result"); // a pipeline stage: ran, unchanged, restored, failed, skipped
  const s = run.info.status;
  const label = result ?? s.toLowerCase();
  return h(`span.badge.s-${label.replace(/[^a-z]/g, "")}`, { title: result ? `stage ${result} (run ${s.toLowerCase()})` : s }, label);
}

/** Rows in display order: top-level runs in the server's order, each
 * followed by its children when it is open; or groups by a column. */
export function arrange(runs: Run[], open: Set<string>, group: Column | null): Row[] {
  if (group) {
    const groups = new Map<string, Run[]>();
    for (const run of runs) {
      const v = valueOf(run, group);
      const k = v === undefined ? "(none)" : String(v);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(run);
    }
    const out: Row[] = [];
    for (const [value, rs] of groups) {
      const isOpen = open.has("g:" + value);
      out.push({ kind: "group", value, runs: rs, open: isOpen });
      if (isOpen) for (const run of rs) out.push({ kind: "run", run, depth: 1, kids: 0, open: false });
    }
    return out;
  }
  const ids = new Set(runs.map((r) => r.info.run_id));
  const kids = new Map<string, Run[]>();
  const top: Run[] = [];
  for (const run of runs) {
    const p = tagOf(run, "mlflow.parentRunId");
    if (p && ids.has(p) && p !== run.info.run_id) {
      if (!kids.has(p)) kids.set(p, []);
      kids.get(p)!.push(run);
    } else top.push(run);
  }
  const out: Row[] = [];
  const seen = new Set<string>();
  const walk = (run: Run, depth: number) => {
    if (seen.has(run.info.run_id)) return; // a cycle of parent tags
    seen.add(run.info.run_id);
    const ks = kids.get(run.info.run_id) ?? [];
    const isOpen = open.has(run.info.run_id);
    out.push({ kind: "run", run, depth, kids: ks.length, open: isOpen });
    if (isOpen) for (const k of ks) walk(k, depth + 1);
  };
  for (const run of top) walk(run, 0);
  return out;
}

/** "mean (min – max)" of a metric over a group's runs. */
function groupStat(runs: Run[], c: Column): string {
  if (c.kind !== "metrics") {
    const vs = new Set(runs.map((r) => valueOf(r, c)).filter((v) => v !== undefined));
    return vs.size === 1 ? String([...vs][0]) : vs.size ? `${vs.size} values` : "";
  }
  const xs = runs.map((r) => valueOf(r, c)).filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (!xs.length) return "";
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `${fmtNum(mean)} (${fmtNum(Math.min(...xs))} – ${fmtNum(Math.max(...xs))})`;
}

export async function runsPage(r: R, ctx: PageContext): Promise<Mounted> {
  const expId = r.experimentId;
  const { experiment } = await api.getExperiment(expId);
  if (!ctx.live()) return {};
  ctx.title(experiment.name);
  const sort = parseSort(r.q.sort ?? DEFAULT_SORT) ?? parseSort(DEFAULT_SORT)!;
  const group = r.q.group ? parseColumn(r.q.group) : null;
  const filterText = r.q.filter ?? "";
  const deleted = r.q.deleted === "1";
  const selected = new Set<string>();
  const open = new Set<string>();

  // ---- the toolbar ----
  const filterBox = h("input.search.filter", {
    type: "search",
    placeholder: "metrics.rmse < 1 and params.model = 'tree'",
    "aria-label": "Filter runs (MLflow search syntax)",
    value: filterText,
    spellcheck: "false",
  }) as HTMLInputElement;
  const filterError = h("div.field-error", { role: "status", id: "filter-error" });
  filterBox.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") ctx.go(withQuery(r, { filter: filterBox.value.trim() }));
  });
  const showDeleted = h("input", { type: "checkbox", checked: deleted, id: "runs-deleted" }) as HTMLInputElement;
  showDeleted.addEventListener("change", () => ctx.go(withQuery(r, { deleted: showDeleted.checked ? "1" : "" })));
  // with a grouping, Compare charts the groups: the selected runs, or the first 100 loaded
  const compareLabel = () => (selected.size ? `Compare ${selected.size}` : group ? "Compare groups" : "Compare");
  const compareBtn = h("button.primary", { type: "button", disabled: !group, id: "compare" }, group ? "Compare groups" : "Compare") as HTMLButtonElement;
  compareBtn.addEventListener("click", () => {
    const ids = selected.size >= 2 || !group ? [...selected] : loaded.slice(0, 100).map((x) => x.info.run_id);
    ctx.go({ page: "compare", runIds: ids, experimentIds: [expId], q: group ? { group: columnId(group) } : {} });
  });
  const keyList = h("datalist", { id: "column-keys" });
  const addCol = h("input.add-col", { type: "text", list: "column-keys", placeholder: "add a column: metrics.rmse", "aria-label": "Add a column" }) as HTMLInputElement;
  const groupSel = h("input.group-by", { type: "text", list: "column-keys", placeholder: "group by: params.model", "aria-label": "Group runs by", value: r.q.group ?? "" }) as HTMLInputElement;
  const chips = h("div.chips", { "aria-label": "Columns" });

  const loaded: Run[] = [];
  let cols: Column[] = parseColumns(r.q.cols);
  const colsFromUrl = r.q.cols !== undefined;

  addCol.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key !== "Enter") return;
    const c = parseColumn(addCol.value.trim());
    if (!c) {
      filterError.textContent = `"${addCol.value}" is not a column: write metrics.KEY, params.KEY, tags.KEY or attributes.NAME`;
      return;
    }
    ctx.go(withQuery(r, { cols: formatColumns([...cols.filter((x) => columnId(x) !== columnId(c)), c]) }));
  });
  groupSel.addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key !== "Enter") return;
    const v = groupSel.value.trim();
    if (v && !parseColumn(v)) {
      filterError.textContent = `"${v}" is not a column to group by`;
      return;
    }
    ctx.go(withQuery(r, { group: v }));
  });

  const head = h(
    "div.page-head",
    h("div.crumbs", h("a", { href: "#/experiments" }, "Experiments"), " / "),
    h("h1", experiment.name),
    h("span.muted.mono", `id ${experiment.experiment_id}`),
    experiment.lifecycle_stage === "deleted" ? h("span.badge.s-failed", "deleted") : null,
  );
  const toolbar = h(
    "div.toolbar",
    filterBox,
    h("button", { type: "button", onclick: () => ctx.go(withQuery(r, { filter: filterBox.value.trim() })) }, "Search"),
    h("label.check", showDeleted, " deleted"),
    groupSel,
    compareBtn,
  );
  const tableBox = h("div.table-box");
  ctx.el.append(head, toolbar, filterError, h("div.toolbar.cols", addCol, chips, keyList), tableBox);

  // ---- the table ----
  const sortOf = (c: Column): "asc" | "desc" | null => (columnId(c) === columnId(sort.col) ? (sort.asc ? "asc" : "desc") : null);
  const onSort = (col: TableColumn<Row>) => {
    const c = parseColumn(col.id);
    if (!c) return;
    const asc = columnId(c) === columnId(sort.col) ? !sort.asc : c.kind === "attributes" && c.key === "run_name";
    ctx.go(withQuery(r, { sort: formatSort(c, asc) }));
  };
  let rows: Row[] = [];
  const redraw = () => {
    rows = arrange(loaded, open, group);
    table.setRows(rows);
  };
  const toggle = (key: string) => {
    if (open.has(key)) open.delete(key);
    else open.add(key);
    redraw();
  };
  const selectBox = (run: Run) => {
    const id = run.info.run_id;
    const cb = h("input", { type: "checkbox", "aria-label": `Select ${runName(run)}`, checked: selected.has(id) }) as HTMLInputElement;
    cb.addEventListener("change", () => {
      if (cb.checked) selected.add(id);
      else selected.delete(id);
      compareBtn.disabled = selected.size < 2 && !group;
      compareBtn.textContent = compareLabel();
    });
    return cb;
  };
  const fixed = (): TableColumn<Row>[] => [
    {
      id: "select",
      title: "",
      width: 34,
      cell: (row) => (row.kind === "run" ? selectBox(row.run) : ""),
    },
    {
      id: "attributes.run_name",
      title: "Run",
      width: 260,
      sort: sortOf({ kind: "attributes", key: "run_name" }),
      cell: (row) => {
        if (row.kind === "group") {
          return h(
            "button.tree",
            { type: "button", "aria-expanded": String(row.open), onclick: () => toggle("g:" + row.value) },
            `${row.open ? "▾" : "▸"} ${group ? group.key : ""} = ${row.value} (${row.runs.length})`,
          );
        }
        const run = row.run;
        const pad = h("span.indent", { style: `width:${row.depth * 16}px` });
        const tog = row.kids
          ? h("button.tree", { type: "button", "aria-expanded": String(row.open), title: `${row.kids} child runs`, onclick: () => toggle(run.info.run_id) }, row.open ? "▾" : "▸")
          : h("span.tree-none");
        const href = formatHash({ page: "run", experimentId: run.info.experiment_id, runId: run.info.run_id, tab: "overview", artifact: "", q: {} });
        const stage = tagOf(run, "cairn.stage");
        return h("span.run-cell", pad, tog, h("a", { href, title: run.info.run_id }, runName(run)), stage ? h("span.muted", " stage") : null, row.kids ? h("span.muted", ` ${row.kids}`) : null);
      },
    },
    {
      id: "attributes.status",
      title: "Status",
      width: 100,
      sort: sortOf({ kind: "attributes", key: "status" }),
      cell: (row) => (row.kind === "run" ? statusBadge(row.run) : ""),
    },
    {
      id: "attributes.start_time",
      title: "Started",
      width: 175,
      sort: sortOf({ kind: "attributes", key: "start_time" }),
      cell: (row) => (row.kind === "run" ? fmtTime(row.run.info.start_time) : ""),
    },
    {
      id: "duration",
      title: "Duration",
      width: 100,
      cell: (row) => {
        if (row.kind !== "run") return "";
        const i = row.run.info;
        if (!i.start_time) return "";
        return fmtDuration((i.end_time || (i.status === "RUNNING" ? Date.now() : i.start_time)) - i.start_time);
      },
    },
    {
      id: "attributes.user_id",
      title: "User",
      width: 100,
      sort: sortOf({ kind: "attributes", key: "user_id" }),
      cell: (row) => (row.kind === "run" ? row.run.info.user_id ?? "" : ""),
    },
  ];
  const userCols = (): TableColumn<Row>[] =>
    cols.map((c) => ({
      id: columnId(c),
      title: c.key,
      title_hint: columnId(c),
      width: c.kind === "metrics" ? 130 : 120,
      sort: sortOf(c),
      cell: (row: Row) => {
        if (row.kind === "group") return groupStat(row.runs, c);
        const v = valueOf(row.run, c);
        return v === undefined ? "" : c.kind === "metrics" ? fmtNum(v) : String(v);
      },
    }));
  const table = new VirtualTable<Row>({
    columns: fixed(),
    rowKey: (row) => (row.kind === "run" ? row.run.info.run_id : "g:" + row.value),
    rowClass: (row) => (row.kind === "group" ? "group-row" : row.depth ? "child-row" : ""),
    onSort,
    onNearEnd: () => void more(),
  });
  tableBox.append(table.el);

  const showChips = () => {
    clear(chips);
    for (const c of cols) {
      chips.append(
        h(
          "span.chip",
          h("span.kind", c.kind.slice(0, 1)),
          c.key,
          h("button.chip-x", { type: "button", "aria-label": `Remove column ${columnId(c)}`, onclick: () => ctx.go(withQuery(r, { cols: formatColumns(cols.filter((x) => columnId(x) !== columnId(c))) || "," })) }, "×"),
        ),
      );
    }
  };

  // ---- loading, page by page ----
  let token: string | undefined;
  let done = false;
  let busy = false;
  const keys = { metrics: new Set<string>(), params: new Set<string>(), tags: new Set<string>() };
  const learnKeys = (runs: Run[]) => {
    const before = keys.metrics.size + keys.params.size + keys.tags.size;
    for (const run of runs) {
      for (const m of run.data.metrics ?? []) keys.metrics.add(m.key);
      for (const p of run.data.params ?? []) keys.params.add(p.key);
      for (const t of run.data.tags ?? []) if (!t.key.startsWith("mlflow.")) keys.tags.add(t.key);
    }
    if (keys.metrics.size + keys.params.size + keys.tags.size === before) return;
    clear(keyList);
    for (const kind of ["metrics", "params", "tags"] as const)
      for (const k of [...keys[kind]].sort().slice(0, 2000)) keyList.append(h("option", { value: `${kind}.${k}` }));
  };
  const more = async (): Promise<void> => {
    if (busy || done || !ctx.live()) return;
    busy = true;
    try {
      const res = await api.searchRuns({
        experiment_ids: [expId],
        filter: filterText || undefined,
        run_view_type: deleted ? "ALL" : "ACTIVE_ONLY",
        max_results: loaded.length ? NEXT_PAGE : FIRST_PAGE,
        order_by: [orderBy(sort.col, sort.asc)],
        page_token: token,
      });
      if (!ctx.live()) return;
      const runs = res.runs ?? [];
      loaded.push(...runs);
      token = res.next_page_token;
      done = !token;
      learnKeys(runs);
      if (!colsFromUrl && loaded.length === runs.length) {
        // no columns chosen yet: the first metrics and params the runs have
        cols = [...[...keys.metrics].slice(0, 4).map((key) => ({ kind: "metrics" as const, key })), ...[...keys.params].slice(0, 4).map((key) => ({ kind: "params" as const, key }))];
      }
      if (loaded.length === runs.length) {
        table.setColumns([...fixed(), ...userCols()]);
        showChips();
      }
      table.setFooter(done ? `${loaded.length.toLocaleString()} runs` : `${loaded.length.toLocaleString()} runs loaded; scroll for more`);
      redraw();
      if (!loaded.length) {
        tableBox.append(h("p.empty", filterText ? "No run matches this filter." : "No runs in this experiment yet."));
      }
    } catch (e) {
      done = true;
      if (loaded.length === 0 && filterText) {
        filterError.textContent = (e as Error).message;
        filterBox.setAttribute("aria-invalid", "true");
        filterBox.setAttribute("aria-describedby", "filter-error");
        table.setFooter("");
      } else ctx.fail(e);
    } finally {
      busy = false;
    }
  };
  await more();
  return {};
}
