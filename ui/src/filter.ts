// filter.ts - columns of the runs table and the MLflow search grammar they
// turn into: order_by clauses and filter terms, with keys and values quoted
// the way the server's parser reads them.

export type Kind = "metrics" | "params" | "tags" | "attributes";

export interface Column {
  kind: Kind;
  key: string;
}

const ATTRS = ["run_name", "status", "start_time", "end_time", "user_id", "run_id", "duration"];

/** "metrics.rmse" / "params.`learning rate`" -> a column; null when it is not one. */
export function parseColumn(s: string): Column | null {
  const dot = s.indexOf(".");
  if (dot < 1) return null;
  const kind = s.slice(0, dot) as Kind;
  if (!["metrics", "params", "tags", "attributes"].includes(kind)) return null;
  let key = s.slice(dot + 1);
  if (key.length >= 2 && key.startsWith("`") && key.endsWith("`")) key = key.slice(1, -1);
  if (!key) return null;
  if (kind === "attributes" && !ATTRS.includes(key)) return null;
  return { kind, key };
}

/** The column's name in the URL ("metrics.rmse"); parseColumn reads it back. */
export function columnId(c: Column): string {
  return `${c.kind}.${c.key}`;
}

/** A key as the search grammar wants it: bare when it is a plain identifier, else in backticks. */
export function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : "`" + key.replace(/`/g, "") + "`";
}

/** A string literal for a filter: single quotes, inner quotes escaped. */
export function quoteValue(v: string): string {
  return "'" + v.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/** The order_by clause for a column ("metrics.`val loss` DESC"). */
export function orderBy(c: Column, asc: boolean): string {
  const key = c.kind === "attributes" ? c.key : quoteKey(c.key);
  return `${c.kind}.${key} ${asc ? "ASC" : "DESC"}`;
}

/** The URL's sort value ("-metrics.rmse" descending) as a column and direction. */
export function parseSort(s: string | undefined): { col: Column; asc: boolean } | null {
  if (!s) return null;
  const asc = !s.startsWith("-");
  const col = parseColumn(asc ? s : s.slice(1));
  return col ? { col, asc } : null;
}

export function formatSort(col: Column, asc: boolean): string {
  return (asc ? "" : "-") + columnId(col);
}

/** A filter term that selects runs whose column equals value. */
export function equalsTerm(c: Column, value: string): string {
  if (c.kind === "metrics") return `metrics.${quoteKey(c.key)} = ${Number(value)}`;
  return `${c.kind}.${c.kind === "attributes" ? c.key : quoteKey(c.key)} = ${quoteValue(value)}`;
}

/** Add a term to a filter with AND. */
export function andTerm(filter: string, term: string): string {
  const f = filter.trim();
  return f ? `${f} AND ${term}` : term;
}

/** Parse the URL's comma-separated column list, dropping what is not a column and repeats. */
export function parseColumns(s: string | undefined): Column[] {
  const out: Column[] = [];
  const seen = new Set<string>();
  for (const part of splitList(s ?? "")) {
    const c = parseColumn(part);
    if (c && !seen.has(columnId(c))) {
      seen.add(columnId(c));
      out.push(c);
    }
  }
  return out;
}

/** Comma-separated, with backticks protecting commas inside keys. */
function splitList(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let tick = false;
  for (const ch of s) {
    if (ch === "`") tick = !tick;
    if (ch === "," && !tick) {
      if (cur) out.push(cur);
      cur = "";
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

export function formatColumns(cols: Column[]): string {
  return cols.map((c) => (c.key.includes(",") ? `${c.kind}.\`${c.key}\`` : columnId(c))).join(",");
}
