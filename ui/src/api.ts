// api.ts - the UI's only way to the server: MLflow's public REST API
// (/api/2.0/mlflow/...) and cairn's documented one (/api/cairn/v1/...).
// Every failure becomes an ApiError carrying the server's own message, or
// saying the server could not be reached, so a page can always show why.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number, // 0: no answer at all
    readonly code: string,
  ) {
    super(message);
  }
}

export interface KV {
  key: string;
  value: string;
}
export interface Metric {
  key: string;
  value: number | string; // "NaN", "Infinity" come as strings
  timestamp: number;
  step: number;
  run_id?: string;
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: string;
  last_update_time?: number;
  creation_time?: number;
  tags?: KV[];
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
}
export interface DatasetInput {
  dataset: { name: string; digest: string; source_type?: string; source?: string; schema?: string; profile?: string };
  tags?: KV[];
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KV[]; tags?: KV[] };
  inputs?: { dataset_inputs?: DatasetInput[] };
}
export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: KV[];
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: KV[];
  aliases?: { alias: string; version: string }[];
}

type Json = Record<string, unknown>;

let base = "";
/** Where the server is ("" : the page's own origin). */
export function setBase(b: string): void {
  base = b.replace(/\/$/, "");
}

async function call<T>(method: string, path: string, body?: Json, query?: Record<string, string | string[]>): Promise<T> {
  let url = base + path;
  if (query) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    url += "?" + p.toString();
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body ? { "Content-Type": "application/json" } : undefined,
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new ApiError(`the server at ${location.origin} cannot be reached (${(e as Error).message})`, 0, "UNREACHABLE");
  }
  const text = await res.text();
  let data: Json = {};
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (!res.ok) throw new ApiError(`${res.status} ${res.statusText}: ${text.slice(0, 200)}`, res.status, "HTTP");
      throw new ApiError(`the server answered ${path} with something that is not JSON`, res.status, "BAD_JSON");
    }
  }
  if (!res.ok) {
    const msg = typeof data.message === "string" ? data.message : typeof data.error === "string" ? data.error : text;
    throw new ApiError(msg || `${res.status} ${res.statusText}`, res.status, String(data.error_code ?? "HTTP"));
  }
  return data as T;
}

const M = "/api/2.0/mlflow";
const C = "/api/cairn/v1";

export const api = {
  searchExperiments: (o: { filter?: string; view_type?: string; max_results?: number; page_token?: string; order_by?: string[] }) =>
    call<{ experiments?: Experiment[]; next_page_token?: string }>("POST", M + "/experiments/search", {
      max_results: 1000,
      ...o,
    }),
  getExperiment: (id: string) => call<{ experiment: Experiment }>("GET", M + "/experiments/get", undefined, { experiment_id: id }),
  createExperiment: (name: string) => call<{ experiment_id: string }>("POST", M + "/experiments/create", { name }),
  renameExperiment: (id: string, name: string) =>
    call<Json>("POST", M + "/experiments/update", { experiment_id: id, new_name: name }),
  deleteExperiment: (id: string) => call<Json>("POST", M + "/experiments/delete", { experiment_id: id }),
  restoreExperiment: (id: string) => call<Json>("POST", M + "/experiments/restore", { experiment_id: id }),
  setExperimentTag: (id: string, key: string, value: string) =>
    call<Json>("POST", M + "/experiments/set-experiment-tag", { experiment_id: id, key, value }),
  deleteExperimentTag: (id: string, key: string) =>
    call<Json>("POST", M + "/experiments/delete-experiment-tag", { experiment_id: id, key }),

  searchRuns: (o: {
    experiment_ids: string[];
    filter?: string;
    run_view_type?: string;
    max_results?: number;
    order_by?: string[];
    page_token?: string;
  }) => call<{ runs?: Run[]; next_page_token?: string }>("POST", M + "/runs/search", o as unknown as Json),
  getRun: (id: string) => call<{ run: Run }>("GET", M + "/runs/get", undefined, { run_id: id }),
  metricHistory: (runId: string, key: string, pageToken?: string) =>
    call<{ metrics?: Metric[]; next_page_token?: string }>("GET", M + "/metrics/get-history", undefined, {
      run_id: runId,
      metric_key: key,
      max_results: "25000",
      ...(pageToken ? { page_token: pageToken } : {}),
    }),
  /** At most maxResults points per run, the min and max of every step bucket kept (cairn_envelope:
   * cairn's sampling; without it the server samples steps as MLflow does and drops extremes). */
  metricSampled: (runIds: string[], key: string, maxResults: number, range?: [number, number]) =>
    call<{ metrics?: Metric[] }>("GET", M + "/metrics/get-history-bulk-interval", undefined, {
      run_ids: runIds,
      metric_key: key,
      max_results: String(maxResults),
      cairn_envelope: "true",
      ...(range ? { start_step: String(Math.max(0, Math.floor(range[0]))), end_step: String(Math.ceil(range[1])) } : {}),
    }),
  /** How many points each run has in a step range: whether a sample holds them all (cairn's API). */
  metricSummary: (runIds: string[], key: string, range?: [number, number]) =>
    call<{ summaries?: { run_id: string; count: number; min_step?: number; max_step?: number }[] }>(
      "GET",
      C + "/metrics/summary",
      undefined,
      {
        run_ids: runIds,
        metric_key: key,
        ...(range ? { start_step: String(Math.max(0, Math.floor(range[0]))), end_step: String(Math.ceil(range[1])) } : {}),
      },
    ),
  listArtifacts: (runId: string, path: string) =>
    call<{ root_uri?: string; files?: FileInfo[] }>("GET", M + "/artifacts/list", undefined, {
      run_id: runId,
      ...(path ? { path } : {}),
    }),

  searchModels: (o: { filter?: string; max_results?: number; page_token?: string }) =>
    call<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
      "GET",
      M + "/registered-models/search",
      undefined,
      { max_results: String(o.max_results ?? 1000), ...(o.filter ? { filter: o.filter } : {}) },
    ),
  getModel: (name: string) =>
    call<{ registered_model: RegisteredModel }>("GET", M + "/registered-models/get", undefined, { name }),
  searchVersions: (name: string) =>
    call<{ model_versions?: ModelVersion[] }>("GET", M + "/model-versions/search", undefined, {
      filter: `name='${name.replace(/'/g, "\\'")}'`,
      max_results: "10000",
    }),
  getVersion: (name: string, version: string) =>
    call<{ model_version: ModelVersion }>("GET", M + "/model-versions/get", undefined, { name, version }),

  cairn: <T>(method: string, path: string, body?: Json, query?: Record<string, string>) =>
    call<T>(method, C + path, body, query),
};

/** The URL that downloads one artifact file of a run. */
export function artifactUrl(runId: string, path: string): string {
  return `${base}/get-artifact?path=${encodeURIComponent(path)}&run_uuid=${encodeURIComponent(runId)}`;
}

/** A metric's value as a number ("NaN" and the infinities as strings become numbers). */
export function num(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}
