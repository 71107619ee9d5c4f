import { describe, expect, it } from "vitest";
import { parseColumn, columnId, quoteKey, quoteValue, orderBy, parseSort, formatSort, equalsTerm, andTerm, parseColumns, formatColumns } from "../src/filter";

describe("columns and the search grammar", () => {
  it("parses columns, with backticks and without", () => {
    expect(parseColumn("metrics.rmse")).toEqual({ kind: "metrics", key: "rmse" });
    expect(parseColumn("params.`learning rate`")).toEqual({ kind: "params", key: "learning rate" });
    expect(parseColumn("tags.a.b")).toEqual({ kind: "tags", key: "a.b" });
    expect(parseColumn("attributes.start_time")).toEqual({ kind: "attributes", key: "start_time" });
    for (const bad of ["rmse", "metric.rmse", "metrics.", "attributes.nope", ".x", "metrics.``"]) expect(parseColumn(bad)).toBeNull();
  });

  it("quotes keys and values the way the server's parser reads them", () => {
    expect(quoteKey("rmse")).toBe("rmse");
    expect(quoteKey("val loss")).toBe("`val loss`");
    expect(quoteKey("a-b")).toBe("`a-b`");
    expect(quoteKey("1st")).toBe("`1st`");
    expect(quoteValue("it's")).toBe("'it\\'s'");
    expect(quoteValue("a\\b")).toBe("'a\\\\b'");
  });

  it("builds order_by clauses and filter terms", () => {
    expect(orderBy({ kind: "metrics", key: "val loss" }, false)).toBe("metrics.`val loss` DESC");
    expect(orderBy({ kind: "attributes", key: "start_time" }, true)).toBe("attributes.start_time ASC");
    expect(equalsTerm({ kind: "params", key: "model" }, "tree")).toBe("params.model = 'tree'");
    expect(equalsTerm({ kind: "metrics", key: "acc" }, "0.5")).toBe("metrics.acc = 0.5");
    expect(andTerm("", "a = 1")).toBe("a = 1");
    expect(andTerm(" x < 2 ", "a = 1")).toBe("x < 2 AND a = 1");
  });

  it("keeps the sort in the URL as -column for descending", () => {
    const c = { kind: "metrics" as const, key: "rmse" };
    expect(formatSort(c, false)).toBe("-metrics.rmse");
    expect(parseSort("-metrics.rmse")).toEqual({ col: c, asc: false });
    expect(parseSort("metrics.rmse")).toEqual({ col: c, asc: true });
    expect(parseSort("-bogus")).toBeNull();
    expect(parseSort(undefined)).toBeNull();
  });

  it("round-trips column lists, commas inside keys included, dropping repeats and junk", () => {
    const cols = [{ kind: "metrics" as const, key: "a,b" }, { kind: "params" as const, key: "lr" }];
    expect(parseColumns(formatColumns(cols))).toEqual(cols);
    expect(parseColumns("metrics.x,metrics.x,junk,,params.y").map(columnId)).toEqual(["metrics.x", "params.y"]);
    expect(parseColumns(",")).toEqual([]);
  });
});
