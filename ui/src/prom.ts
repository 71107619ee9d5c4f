// prom.ts - Prometheus's text exposition format, as a model server's
// /metrics writes it, read into samples; request rates, error shares and
// latency quantiles between two scrapes, as PromQL's rate() and
// histogram_quantile() compute them.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample line of an exposition (comments and blank lines skipped; a bad line is left out). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;
      let l: RegExpExecArray | null;
      while ((l = re.exec(m[3]))) labels[l[1]] = l[2].replace(/\\n/g, "\n").replace(/\\(.)/g, "$1");
    }
    const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : m[4] === "NaN" ? NaN : Number(m[4]);
    if (Number.isNaN(v) && m[4] !== "NaN") continue; // not a sample line
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

type Filter = (labels: Record<string, string>) => boolean;

function sum(samples: Sample[], name: string, keep: Filter): number {
  let s = 0;
  for (const x of samples) if (x.name === name && keep(x.labels)) s += x.value;
  return s;
}

/** Buckets of a histogram summed over its series: upper bound -> cumulative count. */
function buckets(samples: Sample[], name: string, keep: Filter): Map<number, number> {
  const b = new Map<number, number>();
  for (const x of samples) {
    if (x.name !== name + "_bucket" || !keep(x.labels)) continue;
    const le = x.labels.le === "+Inf" ? Infinity : Number(x.labels.le);
    b.set(le, (b.get(le) ?? 0) + x.value);
  }
  return b;
}

/** The q-quantile of a histogram's buckets (cumulative counts by upper bound), interpolated
 * within its bucket as histogram_quantile() does; null without observations. */
export function quantile(q: number, b: Map<number, number>): number | null {
  const les = [...b.keys()].sort((x, y) => x - y);
  const total = les.length ? b.get(les[les.length - 1])! : 0;
  if (!(total > 0)) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = b.get(le)!;
    if (c >= rank) {
      if (le === Infinity) return prevLe; // above the highest bound: its lower edge, as Prometheus
      if (c === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}

export interface Traffic {
  requests: number; // in the interval (or since the start, without a previous scrape)
  perSecond: number | null; // over `seconds` (null: not known)
  errorShare: number | null; // 5xx answers among them
  p50: number | null; // seconds
  p99: number | null;
}

/** A server's traffic between two scrapes `seconds` apart (prev null: since it started, and
 * seconds, when given, its lifetime).
 * Scrapes of /metrics and health checks are left out. */
export function traffic(cur: Sample[], prev: Sample[] | null, seconds: number | null, prefix = "cairn"): Traffic {
  const served: Filter = (l) => !["/metrics", "/ping", "/health", "/version"].includes(l.route ?? "");
  const errors: Filter = (l) => served(l) && /^5/.test(l.status ?? "");
  const total = `${prefix}_http_requests_total`;
  const hist = `${prefix}_http_request_duration_seconds`;
  const d = (f: Filter) => sum(cur, total, f) - (prev ? sum(prev, total, f) : 0);
  const requests = Math.max(0, d(served));
  const bc = buckets(cur, hist, served);
  if (prev) {
    const bp = buckets(prev, hist, served);
    for (const [le, c] of bc) bc.set(le, Math.max(0, c - (bp.get(le) ?? 0)));
  }
  return {
    requests,
    perSecond: seconds && seconds > 0 ? requests / seconds : null,
    errorShare: requests ? Math.max(0, d(errors)) / requests : null,
    p50: quantile(0.5, bc),
    p99: quantile(0.99, bc),
  };
}
