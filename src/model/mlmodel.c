/* mlmodel.c - MLflow's MLmodel file: parse and validate, summarise, write, and infer a signature from CSV. */
#include "model/mlmodel.h"
#include "core/csv.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"
#include "core/path.h"
#include "core/util.h"
#include "core/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* MLmodel files are small: far tighter than core/yaml.h's defaults. */
static const struct cyaml_limits mlmodel_limits = { 200000, 64u << 20, 64 };

#define MAX_TYPE_DEPTH 32   /* nested array/object/map column types */
#define MAX_TENSOR_DIMS 64  /* numpy's own limit */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CAIRN_EINVALID with "MLmodel: " in front. */
static int fail(const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(CAIRN_EINVALID, "MLmodel: %s", msg);
}

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static const char *const type_names[] = {
	[MLTYPE_BOOLEAN] = "boolean",   [MLTYPE_INTEGER] = "integer", [MLTYPE_LONG] = "long",
	[MLTYPE_FLOAT] = "float",       [MLTYPE_DOUBLE] = "double",   [MLTYPE_STRING] = "string",
	[MLTYPE_BINARY] = "binary",     [MLTYPE_DATETIME] = "datetime", [MLTYPE_ARRAY] = "array",
	[MLTYPE_OBJECT] = "object",     [MLTYPE_MAP] = "map",         [MLTYPE_ANY] = "any",
	[MLTYPE_SPARKML_VECTOR] = "sparkml_vector", [MLTYPE_TENSOR] = "tensor",
};

const char *mltype_name(enum mltype t)
{
	if ((unsigned)t >= sizeof(type_names) / sizeof(type_names[0]))
		return "?";
	return type_names[t];
}

static bool type_from_name(const char *s, enum mltype *out)
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (!strcmp(s, type_names[i])) {
			*out = (enum mltype)i;
			return true;
		}
	}
	return false;
}

static bool is_scalar_type(enum mltype t)
{
	return t <= MLTYPE_DATETIME;
}

/* A JSON string without NUL bytes (they cannot live in a C string field). */
static bool is_c_string(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int dup_str(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = cstrdup(s);
	return *out ? 0 : oom();
}

/* ---- signature types ---- */

/* Validate one type object ({"type": ...} with its compound parts). `where`
 * names the spec for messages. */
static int check_type(const json_t *t, int depth, const char *where, enum mltype *out)
{
	const json_t *ty = json_object_get(t, "type"), *sub;
	const char *k;
	json_t *v;
	enum mltype mt;
	int rc;

	if (depth > MAX_TYPE_DEPTH)
		return fail("%s: types nested deeper than %d levels", where, MAX_TYPE_DEPTH);
	if (!json_is_object(t))
		return fail("%s: a type must be a JSON object", where);
	if (!is_c_string(ty))
		return fail("%s: missing \"type\"", where);
	if (!type_from_name(json_string_value(ty), &mt) || mt == MLTYPE_TENSOR)
		return fail("%s: unknown type '%.100s'", where, json_string_value(ty));
	switch (mt) {
	case MLTYPE_ARRAY:
		sub = json_object_get(t, "items");
		if (!json_is_object(sub))
			return fail("%s: an array type needs an \"items\" object", where);
		if ((rc = check_type(sub, depth + 1, where, &mt)))
			return rc;
		mt = MLTYPE_ARRAY;
		break;
	case MLTYPE_MAP:
		sub = json_object_get(t, "values");
		if (!json_is_object(sub))
			return fail("%s: a map type needs a \"values\" object", where);
		if ((rc = check_type(sub, depth + 1, where, &mt)))
			return rc;
		mt = MLTYPE_MAP;
		break;
	case MLTYPE_OBJECT:
		sub = json_object_get(t, "properties");
		if (!json_is_object(sub))
			return fail("%s: an object type needs a \"properties\" object", where);
		json_object_foreach((json_t *)sub, k, v) {
			enum mltype pt;
			const json_t *req = json_object_get(v, "required");

			if ((rc = check_type(v, depth + 1, where, &pt)))
				return rc;
			if (req && !json_is_boolean(req) && !json_is_null(req))
				return fail("%s: property '%.100s': \"required\" must be a boolean", where, k);
		}
		mt = MLTYPE_OBJECT;
		break;
	default:
		break;
	}
	*out = mt;
	return 0;
}

static void schema_free(struct mlschema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->specs[i].name);
		free(s->specs[i].dtype);
		free(s->specs[i].shape);
	}
	free(s->specs);
	json_decref(s->json);
	free(s);
}

static int parse_tensor(const json_t *e, const char *where, struct mlspec *sp)
{
	const json_t *ts = json_object_get(e, "tensor-spec"), *dt, *shape, *d;
	size_t i;

	if (!json_is_object(ts))
		return fail("%s: a tensor spec needs a \"tensor-spec\" object", where);
	dt = json_object_get(ts, "dtype");
	shape = json_object_get(ts, "shape");
	if (!is_c_string(dt) || !json_string_length(dt))
		return fail("%s: tensor-spec needs a \"dtype\" string", where);
	if (json_string_length(dt) > 64)
		return fail("%s: bad tensor dtype '%.64s...'", where, json_string_value(dt));
	for (const char *c = json_string_value(dt); *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("<>=|_[]", *c)))
			return fail("%s: bad tensor dtype '%.64s'", where, json_string_value(dt));
	if (!json_is_array(shape))
		return fail("%s: tensor-spec needs a \"shape\" list", where);
	if (json_array_size(shape) > MAX_TENSOR_DIMS)
		return fail("%s: bad tensor shape: more than %d dimensions", where, MAX_TENSOR_DIMS);
	sp->type = MLTYPE_TENSOR;
	sp->required = true;
	if (dup_str(json_string_value(dt), &sp->dtype))
		return CAIRN_ENOMEM;
	sp->ndim = json_array_size(shape);
	sp->shape = ccalloc(sp->ndim ? sp->ndim : 1, sizeof(*sp->shape));
	if (!sp->shape)
		return oom();
	json_array_foreach(shape, i, d) {
		if (!json_is_integer(d) || json_integer_value(d) < -1)
			return fail("%s: bad tensor shape: dimension %zu must be an integer >= -1", where, i);
		sp->shape[i] = json_integer_value(d);
	}
	return 0;
}

/* Parse and validate a schema list (owned by the new schema: stolen). */
static int schema_parse(json_t *list, const char *what, struct mlschema **out)
{
	struct mlschema *s = NULL;
	size_t i, named = 0, unnamed_optional = 0, tensors = 0;
	json_t *e;
	int rc;

	*out = NULL;
	if (!json_is_array(list) || !json_array_size(list)) {
		rc = fail("signature %s: must be a non-empty JSON list", what);
		goto fail_list;
	}
	if (!(s = ccalloc(1, sizeof(*s))) || !(s->specs = ccalloc(json_array_size(list), sizeof(*s->specs)))) {
		free(s);
		rc = oom();
		goto fail_list;
	}
	s->json = list;
	json_array_foreach(list, i, e) {
		struct mlspec *sp = &s->specs[i];
		const json_t *ty = json_object_get(e, "type"), *name = json_object_get(e, "name");
		const json_t *req = json_object_get(e, "required");
		char where[160];

		s->n = i + 1;
		sp->json = e;
		if (is_c_string(name))
			snprintf(where, sizeof(where), "signature %s: '%.100s'", what, json_string_value(name));
		else
			snprintf(where, sizeof(where), "signature %s: entry %zu", what, i + 1);
		if (!json_is_object(e)) {
			rc = fail("%s: must be a JSON object", where);
			goto fail;
		}
		if (!is_c_string(ty)) {
			rc = fail("%s: missing \"type\"", where);
			goto fail;
		}
		if (name && !json_is_null(name)) {
			if (!is_c_string(name)) {
				rc = fail("%s: \"name\" must be a string", where);
				goto fail;
			}
			if ((rc = dup_str(json_string_value(name), &sp->name)))
				goto fail;
			named++;
		}
		if (!strcmp(json_string_value(ty), "tensor")) {
			if ((rc = parse_tensor(e, where, sp)))
				goto fail;
			tensors++;
			continue;
		}
		if (req && !json_is_null(req) && !json_is_boolean(req)) {
			rc = fail("%s: \"required\" must be a boolean", where);
			goto fail;
		}
		sp->required = !json_is_false(req);
		if (!sp->required && !sp->name)
			unnamed_optional++;
		if ((rc = check_type(e, 0, where, &sp->type)))
			goto fail;
	}
	if (tensors && tensors != s->n) {
		rc = fail("signature %s: mixes tensor and column specs", what);
		goto fail;
	}
	if (named && named != s->n) {
		rc = fail("signature %s: mixes named and unnamed entries", what);
		goto fail;
	}
	if (tensors > 1 && !named) {
		rc = fail("signature %s: several tensors must each have a name", what);
		goto fail;
	}
	if (unnamed_optional) {
		rc = fail("signature %s: unnamed entries cannot be optional", what);
		goto fail;
	}
	s->tensor = tensors > 0;
	*out = s;
	return 0;
fail:
	schema_free(s);
	return rc;
fail_list:
	json_decref(list);
	return rc;
}

static bool value_has_type(const json_t *v, enum mltype t)
{
	switch (t) {
	case MLTYPE_BOOLEAN: return json_is_boolean(v);
	case MLTYPE_INTEGER:
	case MLTYPE_LONG: return json_is_integer(v);
	case MLTYPE_FLOAT:
	case MLTYPE_DOUBLE: return json_is_number(v);
	case MLTYPE_STRING:
	case MLTYPE_DATETIME: return json_is_string(v);
	case MLTYPE_OBJECT: return json_is_object(v);
	default: return false;
	}
}

static void params_free(struct mlparam *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].name);
	free(p);
}

/* Parse and validate a params list (borrowed; it stays in the signature). */
static int params_parse(const json_t *list, struct mlparam **out, size_t *nout)
{
	struct mlparam *ps = NULL;
	size_t i, n = json_array_size(list);
	json_t *e;
	int rc;

	*out = NULL;
	*nout = 0;
	if (!json_is_array(list) || !n)
		return fail("signature params: must be a non-empty JSON list");
	if (!(ps = ccalloc(n, sizeof(*ps))))
		return oom();
	json_array_foreach(list, i, e) {
		struct mlparam *p = &ps[i];
		const json_t *name = json_object_get(e, "name"), *ty, *shape, *def;

		p->json = e;
		if (!json_is_object(e)) {
			rc = fail("signature params: entry %zu must be a JSON object", i + 1);
			goto fail;
		}
		if (!is_c_string(name)) {
			rc = fail("signature params: entry %zu needs a \"name\" string", i + 1);
			goto fail;
		}
		if ((rc = dup_str(json_string_value(name), &p->name)))
			goto fail;
		ty = json_object_get(e, "type");
		if (!ty || json_is_null(ty))
			ty = json_object_get(e, "dtype");
		if (!is_c_string(ty) || !type_from_name(json_string_value(ty), &p->type)) {
			rc = fail("signature params: '%.100s': unknown type '%.100s'", p->name,
				  json_is_string(ty) ? json_string_value(ty) : "(none)");
			goto fail;
		}
		if (p->type == MLTYPE_OBJECT) {
			char where[160];

			snprintf(where, sizeof(where), "signature params: '%.100s'", p->name);
			if ((rc = check_type(e, 0, where, &p->type)))
				goto fail;
		} else if (!is_scalar_type(p->type) || p->type == MLTYPE_BINARY) {
			rc = fail("signature params: '%.100s': type '%s' is not allowed for a parameter", p->name,
				  mltype_name(p->type));
			goto fail;
		}
		if (!json_object_get(e, "default")) {
			rc = fail("signature params: '%.100s': missing \"default\"", p->name);
			goto fail;
		}
		def = json_object_get(e, "default");
		p->default_value = def;
		shape = json_object_get(e, "shape");
		if (shape && !json_is_null(shape)) {
			if (!json_is_array(shape) || json_array_size(shape) != 1 ||
			    json_integer_value(json_array_get(shape, 0)) != -1 ||
			    !json_is_integer(json_array_get(shape, 0))) {
				rc = fail("signature params: '%.100s': shape must be null or [-1]", p->name);
				goto fail;
			}
			p->list = true;
		}
		if (p->list) {
			size_t j;
			json_t *d;

			if (!json_is_array(def)) {
				rc = fail("signature params: '%.100s': the default of a [-1] shape must be a list", p->name);
				goto fail;
			}
			json_array_foreach(def, j, d)
				if (!value_has_type(d, p->type)) {
					rc = fail("signature params: '%.100s': default item %zu is not a %s", p->name,
						  j + 1, mltype_name(p->type));
					goto fail;
				}
		} else if (!json_is_null(def) && !value_has_type(def, p->type)) {
			rc = fail("signature params: '%.100s': the default is not a %s", p->name, mltype_name(p->type));
			goto fail;
		}
	}
	*out = ps;
	*nout = n;
	return 0;
fail:
	params_free(ps, n);
	return rc;
}

static void sig_release(struct mlsignature *s)
{
	schema_free(s->inputs);
	schema_free(s->outputs);
	params_free(s->params, s->nparams);
	json_decref(s->params_json);
	memset(s, 0, sizeof(*s));
}

/* A signature field: absent, null or "" -> *out NULL; a JSON string -> its
 * parsed value; a list written as YAML (not MLflow's form, accepted) -> a copy. */
static int sig_field(const json_t *sig, const char *key, json_t **out)
{
	const json_t *v = json_object_get(sig, key);
	json_error_t jerr;

	*out = NULL;
	if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
		return 0;
	if (json_is_array(v)) {
		*out = json_deep_copy(v);
		return *out ? 0 : oom();
	}
	if (!json_is_string(v))
		return fail("signature %s: must be a JSON string", key);
	*out = json_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!*out)
		return fail("signature %s: bad JSON at line %d, column %d: %s", key, jerr.line, jerr.column,
			    jerr.text);
	return 0;
}

/* Build a signature from parsed JSON lists (each stolen, NULL: absent). */
static int sig_build(json_t *inputs, json_t *outputs, json_t *params, struct mlsignature *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if (inputs && (rc = schema_parse(inputs, "inputs", &s->inputs))) {
		inputs = NULL;
		goto fail;
	}
	inputs = NULL;
	if (outputs && (rc = schema_parse(outputs, "outputs", &s->outputs))) {
		outputs = NULL;
		goto fail;
	}
	outputs = NULL;
	if (params) {
		s->params_json = params;
		params = NULL;
		if ((rc = params_parse(s->params_json, &s->params, &s->nparams)))
			goto fail;
	}
	return 0;
fail:
	json_decref(inputs);
	json_decref(outputs);
	json_decref(params);
	sig_release(s);
	return rc;
}

static int sig_parse(const json_t *sig, struct mlsignature *s)
{
	json_t *in = NULL, *outp = NULL, *params = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!sig || json_is_null(sig))
		return 0;
	if (!json_is_object(sig))
		return fail("signature must be a mapping");
	if ((rc = sig_field(sig, "inputs", &in)) || (rc = sig_field(sig, "outputs", &outp)) ||
	    (rc = sig_field(sig, "params", &params))) {
		json_decref(in);
		json_decref(outp);
		return rc;
	}
	return sig_build(in, outp, params, s);
}

int mlmodel_set_signature(struct mlmodel *m, const json_t *inputs, const json_t *outputs,
			  const json_t *params)
{
	struct mlsignature s;
	json_t *in = inputs ? json_deep_copy(inputs) : NULL;
	json_t *o = outputs ? json_deep_copy(outputs) : NULL;
	json_t *p = params ? json_deep_copy(params) : NULL;
	int rc;

	if ((inputs && !in) || (outputs && !o) || (params && !p)) {
		json_decref(in);
		json_decref(o);
		json_decref(p);
		return oom();
	}
	if ((rc = sig_build(in, o, p, &s)))
		return rc;
	sig_release(&m->sig);
	m->sig = s;
	return 0;
}

/* ---- the document ---- */

void mlmodel_free(struct mlmodel *m)
{
	if (!m)
		return;
	free(m->artifact_path);
	free(m->run_id);
	free(m->model_uuid);
	free(m->model_id);
	free(m->utc_time_created);
	free(m->mlflow_version);
	for (size_t i = 0; i < m->nflavors; i++) {
		free(m->flavors[i].name);
		json_decref(m->flavors[i].conf);
	}
	free(m->flavors);
	sig_release(&m->sig);
	json_decref(m->saved_input_example_info);
	json_decref(m->metadata);
	json_decref(m->doc);
	free(m);
}

static int get_str(const json_t *doc, const char *key, char **out)
{
	const json_t *v = json_object_get(doc, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!is_c_string(v))
		return fail("'%s' must be a string", key);
	return dup_str(json_string_value(v), out);
}

/* An optional mapping field: a new reference in *out, or NULL. */
static int get_map(const json_t *doc, const char *key, json_t **out)
{
	json_t *v = json_object_get(doc, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return fail("'%s' must be a mapping", key);
	*out = json_incref(v);
	return 0;
}

static int add_flavor(struct mlmodel *m, const char *name, json_t *conf)
{
	struct mlflavor *f = crealloc(m->flavors, (m->nflavors + 1) * sizeof(*f));

	if (!f)
		return oom();
	m->flavors = f;
	f = &m->flavors[m->nflavors];
	if (!(f->name = cstrdup(name)))
		return oom();
	f->conf = json_incref(conf);
	m->nflavors++;
	return 0;
}

static int parse_flavors(struct mlmodel *m, const json_t *fl)
{
	const char *k;
	json_t *v;
	int rc;

	if (!fl)
		return fail("'flavors' is missing");
	if (!json_is_object(fl))
		return fail("flavors must be a mapping");
	json_object_foreach((json_t *)fl, k, v) {
		if (!json_is_object(v))
			return fail("flavor '%.100s' must be a mapping", k);
		if ((rc = add_flavor(m, k, v)))
			return rc;
	}
	return 0;
}

static int copy_yaml_error(int rc)
{
	char msg[600];

	snprintf(msg, sizeof(msg), "%s", cairn_error_msg());
	return cairn_error_set(rc, "MLmodel: %s", msg);
}

int mlmodel_parse(const char *text, size_t len, struct mlmodel **out)
{
	struct mlmodel *m;
	const json_t *size;
	json_t *doc = NULL;
	int rc;

	*out = NULL;
	if ((rc = cyaml_parse_limits(text, len, &mlmodel_limits, &doc)))
		return rc == CAIRN_ENOMEM ? rc : copy_yaml_error(rc);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return fail("the document must be a mapping");
	}
	if (!(m = ccalloc(1, sizeof(*m)))) {
		json_decref(doc);
		return oom();
	}
	m->doc = doc;
	m->model_size_bytes = -1;
	if ((rc = get_str(doc, "artifact_path", &m->artifact_path)) ||
	    (rc = get_str(doc, "run_id", &m->run_id)) ||
	    (rc = get_str(doc, "model_uuid", &m->model_uuid)) ||
	    (rc = get_str(doc, "model_id", &m->model_id)) ||
	    (rc = get_str(doc, "utc_time_created", &m->utc_time_created)) ||
	    (rc = get_str(doc, "mlflow_version", &m->mlflow_version)))
		goto fail;
	size = json_object_get(doc, "model_size_bytes");
	if (size && !json_is_null(size)) {
		if (!json_is_integer(size) || json_integer_value(size) < 0) {
			rc = fail("'model_size_bytes' must be a non-negative integer");
			goto fail;
		}
		m->model_size_bytes = json_integer_value(size);
	}
	if ((rc = parse_flavors(m, json_object_get(doc, "flavors"))) ||
	    (rc = get_map(doc, "saved_input_example_info", &m->saved_input_example_info)) ||
	    (rc = get_map(doc, "metadata", &m->metadata)) ||
	    (rc = sig_parse(json_object_get(doc, "signature"), &m->sig)))
		goto fail;
	*out = m;
	return 0;
fail:
	mlmodel_free(m);
	return rc;
}

int mlmodel_load(const char *path, struct mlmodel **out)
{
	struct buf p = BUF_INIT;
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	int fd = -1, rc;

	*out = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		rc = path_join(&p, path, MLMODEL_FILE_NAME);
	else
		rc = buf_puts(&p, path) ? buf_error(&p) : 0;
	if (rc)
		goto out;
	fd = open(p.ptr, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = cairn_error_set(errno == ENOENT ? CAIRN_ENOTFOUND : CAIRN_EIO, "MLmodel: cannot open '%s': %s",
				     p.ptr, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = cairn_error_set(CAIRN_EIO, "MLmodel: '%s' is not a regular file", p.ptr);
		goto out;
	}
	if ((size_t)st.st_size > MLMODEL_MAX_FILE) {
		rc = cairn_error_set(CAIRN_ETOOBIG, "MLmodel: '%s' is larger than %zu bytes", p.ptr,
				     MLMODEL_MAX_FILE);
		goto out;
	}
	if (!(data = cmalloc((size_t)st.st_size + 1))) {
		rc = oom();
		goto out;
	}
	while (got <= MLMODEL_MAX_FILE) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size + 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = cairn_error_set(CAIRN_EIO, "MLmodel: cannot read '%s': %s", p.ptr, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > (size_t)st.st_size) {
			rc = cairn_error_set(CAIRN_EIO, "MLmodel: '%s' grew while being read", p.ptr);
			goto out;
		}
	}
	rc = mlmodel_parse(data, got, out);
out:
	if (fd >= 0)
		close(fd);
	free(data);
	buf_release(&p);
	return rc;
}

/* ---- accessors ---- */

static struct mlflavor *find_flavor(const struct mlmodel *m, const char *name)
{
	for (size_t i = 0; i < m->nflavors; i++)
		if (!strcmp(m->flavors[i].name, name))
			return &m->flavors[i];
	return NULL;
}

const json_t *mlmodel_flavor(const struct mlmodel *m, const char *name)
{
	struct mlflavor *f = find_flavor(m, name);

	return f ? f->conf : NULL;
}

int mlmodel_flavor_set(struct mlmodel *m, const char *flavor, const char *key, json_t *value)
{
	struct mlflavor *f = find_flavor(m, flavor);
	json_t *conf;
	int rc;

	if (!value)
		return oom();
	if (!f) {
		if (!(conf = json_object())) {
			json_decref(value);
			return oom();
		}
		rc = add_flavor(m, flavor, conf);
		json_decref(conf);
		if (rc) {
			json_decref(value);
			return rc;
		}
		f = &m->flavors[m->nflavors - 1];
	}
	return json_object_set_new(f->conf, key, value) ? oom() : 0;
}

const char *mlmodel_loader_module(const struct mlmodel *m)
{
	const json_t *v = json_object_get(mlmodel_flavor(m, "python_function"), "loader_module");

	return is_c_string(v) ? json_string_value(v) : NULL;
}

int mlmodel_flavor_data(const struct mlmodel *m, const char *flavor, const char **out)
{
	static const char *const keys[] = { "data", "model_path", "pickled_model", "model_data",
					    "saved_model_dir", NULL };
	const json_t *conf = mlmodel_flavor(m, flavor);
	struct buf clean = BUF_INIT;

	*out = NULL;
	if (!conf)
		return cairn_error_set(CAIRN_ENOTFOUND, "MLmodel: no flavor '%s'", flavor);
	for (const char *const *k = keys; *k; k++) {
		const json_t *v = json_object_get(conf, *k);
		int rc;

		if (!is_c_string(v))
			continue;
		rc = path_clean_rel(json_string_value(v), json_string_length(v), false, &clean);
		buf_release(&clean);
		if (rc)
			return fail("flavor '%s': %s '%.200s' is not a path inside the model directory", flavor, *k,
				    json_string_value(v));
		*out = json_string_value(v);
		return 0;
	}
	return cairn_error_set(CAIRN_ENOTFOUND, "MLmodel: flavor '%s' names no model data file", flavor);
}

/* ---- summary and writer ---- */

static int set_str(json_t *o, const char *key, const char *s)
{
	json_t *v;

	if (!s)
		return 0;
	v = cjson_string(s);
	return !v || json_object_set_new(o, key, v) ? oom() : 0;
}

json_t *mlmodel_to_json(const struct mlmodel *m)
{
	json_t *o = json_object(), *fl = json_object(), *sig = NULL;

	if (!o || !fl)
		goto oom;
	if (set_str(o, "artifact_path", m->artifact_path) || set_str(o, "run_id", m->run_id) ||
	    set_str(o, "model_uuid", m->model_uuid) || set_str(o, "model_id", m->model_id) ||
	    set_str(o, "utc_time_created", m->utc_time_created) ||
	    set_str(o, "mlflow_version", m->mlflow_version))
		goto oom;
	if (m->model_size_bytes >= 0 && json_object_set_new(o, "model_size_bytes", json_integer(m->model_size_bytes)))
		goto oom;
	for (size_t i = 0; i < m->nflavors; i++)
		if (json_object_set_new(fl, m->flavors[i].name, json_deep_copy(m->flavors[i].conf)))
			goto oom;
	if (json_object_set_new(o, "flavors", fl)) {
		fl = NULL;
		goto oom;
	}
	fl = NULL;
	if (m->sig.inputs || m->sig.outputs || m->sig.params_json) {
		if (!(sig = json_object()))
			goto oom;
		if ((m->sig.inputs && json_object_set_new(sig, "inputs", json_deep_copy(m->sig.inputs->json))) ||
		    (m->sig.outputs && json_object_set_new(sig, "outputs", json_deep_copy(m->sig.outputs->json))) ||
		    (m->sig.params_json && json_object_set_new(sig, "params", json_deep_copy(m->sig.params_json))))
			goto oom;
		if (json_object_set_new(o, "signature", sig)) {
			sig = NULL;
			goto oom;
		}
		sig = NULL;
	}
	if ((m->saved_input_example_info &&
	     json_object_set_new(o, "saved_input_example_info", json_deep_copy(m->saved_input_example_info))) ||
	    (m->metadata && json_object_set_new(o, "metadata", json_deep_copy(m->metadata))))
		goto oom;
	return o;
oom:
	json_decref(o);
	json_decref(fl);
	json_decref(sig);
	return NULL;
}

/* JSON text as Python's json.dumps writes it (", " and ": "), which is how
 * MLflow spells the signature strings. */
static void put_pyjson(struct buf *b, const json_t *v)
{
	const char *k;
	json_t *e;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		buf_putc(b, '{');
		i = 0;
		json_object_foreach((json_t *)v, k, e) {
			if (i++)
				buf_puts(b, ", ");
			cjson_put_string(b, k, json_object_iter_key_len(json_object_key_to_iter(k)));
			buf_puts(b, ": ");
			put_pyjson(b, e);
		}
		buf_putc(b, '}');
		break;
	case JSON_ARRAY:
		buf_putc(b, '[');
		json_array_foreach(v, i, e) {
			if (i)
				buf_puts(b, ", ");
			put_pyjson(b, e);
		}
		buf_putc(b, ']');
		break;
	case JSON_STRING:
		cjson_put_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		cjson_put_double(b, json_real_value(v));
		break;
	case JSON_TRUE:
		buf_puts(b, "true");
		break;
	case JSON_FALSE:
		buf_puts(b, "false");
		break;
	default:
		buf_puts(b, "null");
	}
}

/* A signature field for the file: the JSON string, or JSON null. */
static json_t *sig_string(const json_t *list)
{
	struct buf b = BUF_INIT;
	json_t *s;

	if (!list)
		return json_null();
	put_pyjson(&b, list);
	if (b.err) {
		buf_release(&b);
		return NULL;
	}
	s = json_stringn(b.ptr, b.len);
	buf_release(&b);
	return s;
}

/* Set key to s (a new string); when s is NULL remove the key, but keep an
 * explicit null (MLflow 3 writes "model_id: null"). */
static int put_or_del(json_t *o, const char *key, const char *s)
{
	if (!s) {
		if (!json_is_null(json_object_get(o, key)))
			json_object_del(o, key);
		return 0;
	}
	return set_str(o, key, s);
}

static int put_or_del_json(json_t *o, const char *key, json_t *v)
{
	if (!v) {
		json_object_del(o, key);
		return 0;
	}
	return json_object_set(o, key, v) ? oom() : 0;
}

int mlmodel_write(const struct mlmodel *m, struct buf *out)
{
	json_t *doc = m->doc ? json_deep_copy(m->doc) : json_object();
	json_t *fl = json_object(), *sig = NULL;
	int rc = CAIRN_ENOMEM;

	if (!doc || !fl)
		goto oom;
	if (put_or_del(doc, "artifact_path", m->artifact_path) || put_or_del(doc, "run_id", m->run_id) ||
	    put_or_del(doc, "model_uuid", m->model_uuid) || put_or_del(doc, "model_id", m->model_id) ||
	    put_or_del(doc, "utc_time_created", m->utc_time_created) ||
	    put_or_del(doc, "mlflow_version", m->mlflow_version))
		goto oom;
	if (m->model_size_bytes >= 0) {
		if (json_object_set_new(doc, "model_size_bytes", json_integer(m->model_size_bytes)))
			goto oom;
	} else {
		json_object_del(doc, "model_size_bytes");
	}
	for (size_t i = 0; i < m->nflavors; i++)
		if (json_object_set(fl, m->flavors[i].name, m->flavors[i].conf))
			goto oom;
	if (json_object_set(doc, "flavors", fl))
		goto oom;
	if (m->sig.inputs || m->sig.outputs || m->sig.params_json) {
		sig = json_object();
		if (!sig ||
		    json_object_set_new(sig, "inputs", sig_string(m->sig.inputs ? m->sig.inputs->json : NULL)) ||
		    json_object_set_new(sig, "outputs", sig_string(m->sig.outputs ? m->sig.outputs->json : NULL)) ||
		    json_object_set_new(sig, "params", sig_string(m->sig.params_json)) ||
		    json_object_set(doc, "signature", sig))
			goto oom;
		/* MLflow 2.20+ writes these beside a signature; older readers ignore them */
		if ((!json_object_get(doc, "is_signature_from_type_hint") &&
		     json_object_set_new(doc, "is_signature_from_type_hint", json_false())) ||
		    (!json_object_get(doc, "type_hint_from_example") &&
		     json_object_set_new(doc, "type_hint_from_example", json_false())))
			goto oom;
	} else {
		json_object_del(doc, "signature");
		json_object_del(doc, "is_signature_from_type_hint");
		json_object_del(doc, "type_hint_from_example");
	}
	if (put_or_del_json(doc, "saved_input_example_info", m->saved_input_example_info) ||
	    put_or_del_json(doc, "metadata", m->metadata))
		goto oom;
	rc = cyaml_dump_sorted(doc, out);
	goto out;
oom:
	rc = oom();
out:
	json_decref(doc);
	json_decref(fl);
	json_decref(sig);
	return rc;
}

/* ---- a model for a bare file ---- */

static int check_file_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255 || !strcmp(s, ".") || !strcmp(s, "..") || !strcmp(s, MLMODEL_FILE_NAME))
		return cairn_error_set(CAIRN_EINVALID, "bad model file name '%.300s'", s);
	for (const char *c = s; *c; c++)
		if (*c == '/' || *c == '\\' || (unsigned char)*c < 0x20 || *c == 0x7f)
			return cairn_error_set(CAIRN_EINVALID, "bad model file name '%.300s': a plain file name "
					       "is expected", s);
	return 0;
}

static int now_utc(char out[48])
{
	struct timespec ts;
	struct tm tm;
	char day[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!gmtime_r(&ts.tv_sec, &tm))
		return cairn_error_set(CAIRN_ERR, "cannot read the clock");
	strftime(day, sizeof(day), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(out, 48, "%s.%06ld", day, (long)(ts.tv_nsec / 1000) % 1000000);
	return 0;
}

int mlmodel_new_for_file(const char *flavor, const char *data_file, struct mlmodel **out)
{
	struct mlmodel *m = NULL;
	const char *ext, *fmt;
	char id[CAIRN_ID_LEN + 1], when[48];
	json_t *env = NULL;
	int rc;

	*out = NULL;
	if (strcmp(flavor, "xgboost") && strcmp(flavor, "sklearn"))
		return cairn_error_set(CAIRN_EINVALID, "unsupported flavor '%.100s' (xgboost or sklearn)", flavor);
	if ((rc = check_file_name(data_file)) || (rc = now_utc(when)))
		return rc;
	if (!(m = ccalloc(1, sizeof(*m))) || !(m->doc = json_object()))
		goto oom;
	m->model_size_bytes = -1;
	cairn_id_new(id);
	if (dup_str(id, &m->model_uuid) || dup_str(when, &m->utc_time_created) ||
	    dup_str(MLMODEL_MLFLOW_VERSION, &m->mlflow_version))
		goto oom;
	env = json_pack("{s:s,s:s}", "conda", "conda.yaml", "virtualenv", "python_env.yaml");
	if (!env)
		goto oom;
	if (!strcmp(flavor, "xgboost")) {
		ext = strrchr(data_file, '.');
		fmt = ext && !strcmp(ext, ".json") ? "json" : ext && !strcmp(ext, ".ubj") ? "ubj" : "xgb";
		if ((rc = mlmodel_flavor_set(m, "python_function", "loader_module", json_string("mlflow.xgboost"))) ||
		    (rc = mlmodel_flavor_set(m, "python_function", "data", cjson_string(data_file))) ||
		    (rc = mlmodel_flavor_set(m, "python_function", "env", json_incref(env))) ||
		    (rc = mlmodel_flavor_set(m, "xgboost", "data", cjson_string(data_file))) ||
		    (rc = mlmodel_flavor_set(m, "xgboost", "model_class", json_string("xgboost.core.Booster"))) ||
		    (rc = mlmodel_flavor_set(m, "xgboost", "model_format", json_string(fmt))) ||
		    (rc = mlmodel_flavor_set(m, "xgboost", "code", json_null())))
			goto fail;
	} else {
		if ((rc = mlmodel_flavor_set(m, "python_function", "loader_module", json_string("mlflow.sklearn"))) ||
		    (rc = mlmodel_flavor_set(m, "python_function", "model_path", cjson_string(data_file))) ||
		    (rc = mlmodel_flavor_set(m, "python_function", "predict_fn", json_string("predict"))) ||
		    (rc = mlmodel_flavor_set(m, "python_function", "env", json_incref(env))) ||
		    (rc = mlmodel_flavor_set(m, "sklearn", "pickled_model", cjson_string(data_file))) ||
		    (rc = mlmodel_flavor_set(m, "sklearn", "serialization_format", json_string("cloudpickle"))) ||
		    (rc = mlmodel_flavor_set(m, "sklearn", "code", json_null())))
			goto fail;
	}
	json_decref(env);
	*out = m;
	return 0;
oom:
	rc = oom();
fail:
	json_decref(env);
	mlmodel_free(m);
	return rc;
}

/* ---- signature inference from CSV ---- */

/* What the values of one column have looked like so far. */
struct colstat {
	bool all_int, all_num, all_bool;
	size_t values;   /* non-missing values seen */
	bool missing;    /* an empty or NA value was seen */
};

static bool is_na(const char *s, size_t n)
{
	static const char *const na[] = { "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
		"1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null", NULL };

	for (const char *const *w = na; *w; w++)
		if (strlen(*w) == n && !memcmp(s, *w, n))
			return true;
	return false;
}

static void classify(struct colstat *c, const char *s, size_t n)
{
	struct ccsv_value v;
	enum ccsv_kind k;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (is_na(s, n)) {
		c->missing = true;
		return;
	}
	c->values++;
	/* core/csv's reading of the field; pandas' own NA words were handled above */
	k = ccsv_value_parse(s, n, &v);
	c->all_int = c->all_int && k == CCSV_INT;
	c->all_num = c->all_num && (k == CCSV_INT || k == CCSV_FLOAT);
	c->all_bool = c->all_bool && k == CCSV_BOOL;
}

/* What mlmodel_signature_from_csv collects from the records (a core/csv.h callback's context). */
struct csv_infer {
	json_t *names;        /* the header's column names */
	struct colstat *st;   /* per column */
	size_t ncols, rows;
};

static int infer_header(struct csv_infer *c, const struct ccsv_record *rec)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct ccsv_field *f = &rec->fields[i];
		json_t *name;

		if (memchr(f->p, '\0', f->n))
			return cairn_error_set(CAIRN_EINVALID, "CSV column %zu: the name contains a NUL byte", i + 1);
		if (f->n) {
			name = json_stringn(f->p, f->n);
			if (!name)
				return cairn_error_set(CAIRN_EINVALID, "CSV column %zu: the name is not valid UTF-8", i + 1);
		} else {
			name = json_sprintf("Unnamed: %zu", i);
		}
		if (!name || json_array_append_new(c->names, name))
			return oom();
	}
	c->ncols = rec->nfields;
	for (size_t i = 0; i < c->ncols; i++)
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(c->names, i), json_array_get(c->names, j)))
				return cairn_error_set(CAIRN_EINVALID, "CSV: duplicate column name '%.100s'",
						       json_string_value(json_array_get(c->names, i)));
	if (!(c->st = ccalloc(c->ncols, sizeof(*c->st))))
		return oom();
	for (size_t i = 0; i < c->ncols; i++)
		c->st[i].all_int = c->st[i].all_num = c->st[i].all_bool = true;
	return 0;
}

static int infer_record(void *ctx, const struct ccsv_record *rec)
{
	struct csv_infer *c = ctx;

	if (rec->index == 1)
		return infer_header(c, rec);
	if (rec->nfields != c->ncols)
		return cairn_error_set(CAIRN_EINVALID, "CSV line %zu has %zu fields, the header has %zu",
				       rec->line, rec->nfields, c->ncols);
	for (size_t i = 0; i < c->ncols; i++)
		classify(&c->st[i], rec->fields[i].p, rec->fields[i].n);
	return ++c->rows == MLMODEL_CSV_ROWS ? CCSV_STOP : 0;
}

int mlmodel_signature_from_csv(const char *csv, size_t len, json_t **inputs)
{
	struct ccsv_options opt = { .strict = true, .max_field = 1 << 20, .max_fields = MLMODEL_CSV_COLUMNS };
	struct csv_infer c = { json_array(), NULL, 0, 0 };
	json_t *list = NULL;
	int rc;

	*inputs = NULL;
	if (!c.names)
		return oom();
	rc = ccsv_read(csv, len, &opt, infer_record, &c);
	if (rc < 0)
		goto out;
	if (!c.ncols) {
		rc = cairn_error_set(CAIRN_EINVALID, "CSV is empty: a header row is expected");
		goto out;
	}
	if (!c.rows) {
		rc = cairn_error_set(CAIRN_EINVALID, "CSV has a header but no data rows to infer types from");
		goto out;
	}
	if (!(list = json_array())) {
		rc = oom();
		goto out;
	}
	for (size_t i = 0; i < c.ncols; i++) {
		const struct colstat *st = &c.st[i];
		const char *type = !st->values ? "double"
			: st->all_bool ? "boolean"
			: st->all_int ? (st->missing ? "double" : "long")
			: st->all_num ? "double" : "string";
		json_t *spec = json_pack("{s:s,s:O,s:b}", "type", type, "name", json_array_get(c.names, i),
					 "required", !st->missing);

		if (!spec || json_array_append_new(list, spec)) {
			rc = oom();
			goto out;
		}
	}
	*inputs = list;
	list = NULL;
	rc = 0;
out:
	free(c.st);
	json_decref(c.names);
	json_decref(list);
	return rc;
}
