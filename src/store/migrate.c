/* migrate.c - versioned schema migrations, applied in order at start-up.
 *
 * Each entry upgrades the schema from version i to i+1. Entries are appended,
 * never edited once released. store_migrate() runs under the backend's
 * exclusive migration lock, so concurrent first starts do not race.
 */
#include "store/store_backend.h"
#include "core/error.h"

static const char *const migrations[] = {
	/* 1: tracking */
	"CREATE TABLE experiments ("
	"  experiment_id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  artifact_location TEXT NOT NULL,"
	"  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
	"  creation_time BIGINT NOT NULL,"
	"  last_update_time BIGINT NOT NULL);"
	"CREATE TABLE experiment_tags ("
	"  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (experiment_id, key));"
	"CREATE TABLE runs ("
	"  run_uuid TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL DEFAULT '',"
	"  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  status TEXT NOT NULL,"
	"  start_time BIGINT,"
	"  end_time BIGINT,"
	"  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
	"  artifact_uri TEXT NOT NULL DEFAULT '',"
	"  deleted_time BIGINT);"
	"CREATE INDEX runs_by_experiment ON runs(experiment_id, start_time);"
	"CREATE TABLE params ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (run_uuid, key));"
	"CREATE INDEX params_by_key ON params(key, value);"
	"CREATE TABLE tags ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (run_uuid, key));"
	"CREATE TABLE metrics ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value DOUBLE PRECISION NOT NULL,"
	"  is_nan INTEGER NOT NULL DEFAULT 0,"
	"  timestamp BIGINT NOT NULL,"
	"  step BIGINT NOT NULL);"
	"CREATE UNIQUE INDEX metrics_points ON metrics(run_uuid, key, timestamp, step, value, is_nan);"
	"CREATE TABLE latest_metrics ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value DOUBLE PRECISION NOT NULL,"
	"  is_nan INTEGER NOT NULL DEFAULT 0,"
	"  timestamp BIGINT NOT NULL,"
	"  step BIGINT NOT NULL,"
	"  PRIMARY KEY (run_uuid, key));"
	"CREATE INDEX latest_metrics_by_key ON latest_metrics(key, value);"
	"CREATE TABLE datasets ("
	"  dataset_uuid TEXT PRIMARY KEY,"
	"  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
	"  name TEXT NOT NULL, digest TEXT NOT NULL,"
	"  source_type TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '',"
	"  schema TEXT, profile TEXT,"
	"  UNIQUE (experiment_id, name, digest));"
	"CREATE TABLE inputs ("
	"  input_uuid TEXT PRIMARY KEY,"
	"  source_type TEXT NOT NULL, source_id TEXT NOT NULL,"
	"  destination_type TEXT NOT NULL, destination_id TEXT NOT NULL,"
	"  UNIQUE (source_type, source_id, destination_type, destination_id));"
	"CREATE INDEX inputs_by_destination ON inputs(destination_id);"
	"CREATE TABLE input_tags ("
	"  input_uuid TEXT NOT NULL REFERENCES inputs(input_uuid) ON DELETE CASCADE,"
	"  name TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (input_uuid, name));"
	"CREATE TABLE artifacts ("
	"  path TEXT PRIMARY KEY,"
	"  object TEXT NOT NULL,"
	"  size BIGINT NOT NULL,"
	"  mtime BIGINT NOT NULL);"
	"INSERT INTO experiments(experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)"
	"  VALUES (0, 'Default', 'mlflow-artifacts:/0', 'active',"
	"          CAST(strftime('%s','now') AS BIGINT) * 1000, CAST(strftime('%s','now') AS BIGINT) * 1000);",

	/* 2: model registry, MLflow 3 logged models, run outputs, registry audit log.
	 * Registered models carry an integer id so a rename touches one row;
	 * next_version makes version numbers consecutive and never reused. */
	"CREATE TABLE registered_models ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  creation_time BIGINT NOT NULL,"
	"  last_updated_time BIGINT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  next_version INTEGER NOT NULL DEFAULT 1);"
	"CREATE TABLE registered_model_tags ("
	"  model INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (model, key));"
	"CREATE TABLE model_versions ("
	"  model INTEGER NOT NULL REFERENCES registered_models(id) ON DELETE CASCADE,"
	"  version INTEGER NOT NULL,"
	"  creation_time BIGINT NOT NULL,"
	"  last_updated_time BIGINT NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  current_stage TEXT NOT NULL DEFAULT 'None',"
	"  source TEXT NOT NULL DEFAULT '',"
	"  storage_location TEXT NOT NULL DEFAULT '',"
	"  run_id TEXT,"
	"  run_link TEXT,"
	"  model_id TEXT,"
	"  status TEXT NOT NULL DEFAULT 'READY',"
	"  status_message TEXT,"
	"  PRIMARY KEY (model, version));"
	"CREATE INDEX model_versions_by_run ON model_versions(run_id);"
	"CREATE TABLE model_version_tags ("
	"  model INTEGER NOT NULL, version INTEGER NOT NULL,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (model, version, key),"
	"  FOREIGN KEY (model, version) REFERENCES model_versions(model, version) ON DELETE CASCADE);"
	"CREATE TABLE registered_model_aliases ("
	"  model INTEGER NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,"
	"  PRIMARY KEY (model, alias),"
	"  FOREIGN KEY (model, version) REFERENCES model_versions(model, version) ON DELETE CASCADE);"
	"CREATE TABLE registry_audit ("
	"  id INTEGER PRIMARY KEY,"
	"  time BIGINT NOT NULL,"
	"  user_id TEXT NOT NULL DEFAULT '',"
	"  action TEXT NOT NULL,"
	"  model TEXT NOT NULL,"
	"  version INTEGER,"
	"  alias TEXT,"
	"  details TEXT NOT NULL DEFAULT '{}');"
	"CREATE INDEX registry_audit_by_model ON registry_audit(model, id);"
	"CREATE TABLE logged_models ("
	"  model_id TEXT PRIMARY KEY,"
	"  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
	"  name TEXT NOT NULL,"
	"  artifact_location TEXT NOT NULL,"
	"  creation_time BIGINT NOT NULL,"
	"  last_updated_time BIGINT NOT NULL,"
	"  status TEXT NOT NULL DEFAULT 'LOGGED_MODEL_PENDING',"
	"  status_message TEXT,"
	"  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
	"  model_type TEXT,"
	"  source_run_id TEXT);"
	"CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, creation_time);"
	"CREATE TABLE logged_model_tags ("
	"  model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (model_id, key));"
	"CREATE TABLE logged_model_params ("
	"  model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (model_id, key));"
	"CREATE TABLE logged_model_metrics ("
	"  model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value DOUBLE PRECISION NOT NULL,"
	"  is_nan INTEGER NOT NULL DEFAULT 0,"
	"  timestamp BIGINT NOT NULL,"
	"  step BIGINT NOT NULL,"
	"  run_id TEXT,"
	"  dataset_name TEXT,"
	"  dataset_digest TEXT);"
	"CREATE INDEX logged_model_metrics_by_model ON logged_model_metrics(model_id, key);"
	"CREATE TABLE run_outputs ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  model_id TEXT NOT NULL,"
	"  step BIGINT NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run_uuid, model_id));"
	"CREATE TABLE run_model_inputs ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  model_id TEXT NOT NULL,"
	"  PRIMARY KEY (run_uuid, model_id));",
	/* monitors of served models (registry/monitors.h): the definition, the lease of the
	 * one runner that may advance it, its state, and what it recorded */
	"CREATE TABLE monitors ("
	"  name TEXT PRIMARY KEY,"
	"  spec TEXT NOT NULL,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  creation_time BIGINT NOT NULL,"
	"  last_update_time BIGINT NOT NULL,"
	"  created_by TEXT NOT NULL DEFAULT '',"
	"  state TEXT,"
	"  windows BIGINT NOT NULL DEFAULT 0,"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  lease_until BIGINT NOT NULL DEFAULT 0);"
	"CREATE TABLE monitor_windows ("
	"  monitor TEXT NOT NULL REFERENCES monitors(name) ON DELETE CASCADE,"
	"  idx BIGINT NOT NULL,"
	"  start_us BIGINT NOT NULL,"
	"  end_us BIGINT NOT NULL,"
	"  nrows BIGINT NOT NULL,"
	"  dataset_drift INTEGER NOT NULL,"
	"  share DOUBLE PRECISION,"
	"  result TEXT NOT NULL,"
	"  recorded BIGINT NOT NULL,"
	"  revision INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (monitor, idx));"
	"CREATE TABLE monitor_events ("
	"  id INTEGER PRIMARY KEY,"
	"  monitor TEXT NOT NULL REFERENCES monitors(name) ON DELETE CASCADE,"
	"  time BIGINT NOT NULL,"
	"  window_idx BIGINT,"
	"  event TEXT NOT NULL,"
	"  incident TEXT NOT NULL DEFAULT '',"
	"  detail TEXT NOT NULL);"
	"CREATE INDEX monitor_events_by_monitor ON monitor_events(monitor, id);",
	/* runs/search ordered by a tag reads the runs in this index's order */
	"CREATE INDEX tags_by_key ON tags(key, value);",
	/* deployments: what each running `cairn serve` reports (its models, its
	 * Prometheus metrics now and at the report before, for rates) */
	"CREATE TABLE deployments ("
	"  name TEXT PRIMARY KEY,"
	"  info TEXT NOT NULL,"
	"  metrics TEXT NOT NULL,"
	"  reported BIGINT NOT NULL,"
	"  prev_metrics TEXT,"
	"  prev_reported BIGINT,"
	"  first_reported BIGINT NOT NULL);",
	/* 6: a metric's points in step order, and the step buckets of long series.
	 * metrics becomes a WITHOUT ROWID table clustered by (run_uuid, key, step,
	 * timestamp, value, is_nan): get-history-bulk-interval and
	 * metrics/summary read a series in step order with no sort, a step range
	 * is a key range, and a point is still stored twice, not three times (the
	 * old unique index, now this key; metrics_points stays for get-history's
	 * timestamp order). latest_metrics.gen counts the writes of a series'
	 * points (every write to metrics bumps it in the same transaction); a
	 * metric_pyramids row, built from the points at generation gen
	 * (tracking/pyramid.h), holds for the series only while its gen is the
	 * series' gen. */
	"CREATE TABLE metrics_new ("
	"  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value DOUBLE PRECISION NOT NULL,"
	"  is_nan INTEGER NOT NULL DEFAULT 0,"
	"  timestamp BIGINT NOT NULL,"
	"  step BIGINT NOT NULL,"
	"  PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)) WITHOUT ROWID;"
	"INSERT INTO metrics_new(run_uuid, key, value, is_nan, timestamp, step)"
	"  SELECT run_uuid, key, value, is_nan, timestamp, step FROM metrics;"
	"DROP TABLE metrics;"
	"ALTER TABLE metrics_new RENAME TO metrics;"
	"CREATE INDEX metrics_points ON metrics(run_uuid, key, timestamp, step, value, is_nan);"
	"ALTER TABLE latest_metrics ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE metric_pyramids ("
	"  run_uuid TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  gen INTEGER NOT NULL,"
	"  points BIGINT NOT NULL,"
	"  min_step BIGINT NOT NULL,"
	"  max_step BIGINT NOT NULL,"
	"  buckets BLOB NOT NULL,"
	"  PRIMARY KEY (run_uuid, key),"
	"  FOREIGN KEY (run_uuid, key) REFERENCES latest_metrics(run_uuid, key) ON DELETE CASCADE);",
};

static int schema_version(struct store *s, int *out)
{
	struct store_stmt *st;
	int rc;

	rc = store_exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
	if (rc)
		return rc;
	if ((rc = store_prepare(s, "SELECT version FROM schema_version", &st)))
		return rc;
	rc = store_step(st);
	if (rc == STORE_ROW) {
		*out = (int)store_col_int64(st, 0);
		rc = 0;
	} else if (rc == STORE_DONE) {
		*out = 0;
		store_reset(st);
		return store_exec(s, "INSERT INTO schema_version VALUES (0)");
	}
	store_reset(st);
	return rc;
}

int store_migrate(struct store *s)
{
	const int n = (int)(sizeof(migrations) / sizeof(migrations[0]));
	struct store_stmt *st;
	int v = 0, rc;

	if ((rc = schema_version(s, &v)))
		return rc;
	if (v > n)
		return cairn_error_set(CAIRN_ERR,
				       "database schema version %d is newer than this cairn (%d): upgrade cairn", v, n);
	for (; v < n; v++) {
		if ((rc = store_exec(s, migrations[v])))
			return rc;
	}
	if ((rc = store_prepare(s, "UPDATE schema_version SET version = ?", &st)))
		return rc;
	store_bind_int64(st, 1, n);
	rc = store_step(st);
	store_reset(st);
	return rc < 0 ? rc : 0;
}
