-- bench/http_mixed.lua - wrk script for bench/http.sh: a mixed MLflow REST load.
--
--   wrk -t2 -cN -dS -s bench/http_mixed.lua URL -- RUN_ID EXPERIMENT_ID
--   wrk -t2 -cN -dS -s bench/http_mixed.lua URL -- health      (only GET /health: wrk's ceiling)
--
-- Every other request is POST runs/log-metric into RUN_ID (a new step and value each time,
-- so no two points collide on MLflow's metrics primary key), the others POST runs/search
-- over EXPERIMENT_ID (max_results 5).  The search request is formatted once per thread;
-- a log-metric body is one string.format.  done() prints one line "HTTPBENCH {json}"
-- with wrk's own counts and latency percentiles (microseconds), read by bench/http_load.py.

local threads = {}
local nthreads = 0

function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
	table.insert(threads, thread)
end

local run_id, search, hdr, health
local i = 0

function init(args)
	run_id = args[1] or error("http_mixed.lua: pass RUN_ID after --")
	if run_id == "health" then
		health = wrk.format("GET", "/health")
	end
	local exp = args[2] or "0"
	hdr = { ["Content-Type"] = "application/json" }
	search = wrk.format("POST", "/api/2.0/mlflow/runs/search", hdr,
		'{"experiment_ids":["' .. exp .. '"],"max_results":5}')
end

function request()
	if health then
		return health
	end
	i = i + 1
	if i % 2 == 0 then
		return search
	end
	-- tid (1..threads) keeps the threads' steps apart: step = i * 16 + tid
	local step = i * 16 + tid
	return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", hdr, string.format(
		'{"run_id":"%s","key":"load","value":%d.5,"timestamp":%d,"step":%d}',
		run_id, step, 1700000000000 + step, step))
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'HTTPBENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
		'"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
		'"latency_us":{"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
		summary.requests, summary.duration, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency.mean, latency.stdev, latency.max,
		latency:percentile(50), latency:percentile(90), latency:percentile(99),
		latency:percentile(99.9)))
end
