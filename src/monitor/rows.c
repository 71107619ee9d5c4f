/* rows.c - a logged request body and its answer back into rows of named values, for every protocol cairn serve reads. */
#include "monitor/monitor.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/fault.h"

#include <stdio.h>
#include <string.h>

static int oom(void)
{
	return cairn_error_set(CAIRN_ENOMEM, "out of memory");
}

static int bad(const char *what)
{
	return cairn_error_set(CAIRN_EINVALID, "logged request: %s", what);
}

/* the name of positional column i */
static json_t *col_name(const char *const *names, size_t nnames, size_t ncols, size_t i)
{
	char tmp[32];

	if (names && nnames == ncols)
		return json_string(names[i]);
	snprintf(tmp, sizeof(tmp), "%zu", i);
	return json_string(tmp);
}

/* one row from a list of values and column names (a JSON array of strings) */
static int row_from_list(json_t *rows, const json_t *values, const json_t *cols, const char *const *names, size_t nnames)
{
	json_t *row = json_object(), *v;
	size_t i;

	if (!row || json_array_append_new(rows, row))
		return oom();
	if (!json_is_array(values))   /* a single value: one column */
		values = json_pack("[O]", values);
	else
		json_incref((json_t *)values);
	if (!values)
		return oom();
	json_array_foreach(values, i, v) {
		json_t *name = cols ? json_incref(json_array_get(cols, i))
				    : col_name(names, nnames, json_array_size(values), i);

		if (!json_is_string(name)) {
			json_decref(name);
			json_decref((json_t *)values);
			return bad("more values in a row than columns");
		}
		if (json_object_set(row, json_string_value(name), v)) {
			json_decref(name);
			json_decref((json_t *)values);
			return oom();
		}
		json_decref(name);
	}
	json_decref((json_t *)values);
	return 0;
}

/* {"col": [v, v, ...], ...}: columns to rows */
static int rows_from_columns(json_t *rows, const json_t *obj)
{
	const char *key;
	json_t *col;
	size_t n = 0;
	bool first = true;

	json_object_foreach((json_t *)obj, key, col) {
		size_t m = json_is_array(col) ? json_array_size(col) : 1;

		if (!first && m != n)
			return bad("columns of different lengths");
		n = m;
		first = false;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_object();

		if (!row || json_array_append_new(rows, row))
			return oom();
		json_object_foreach((json_t *)obj, key, col)
			if (json_object_set(row, key, json_is_array(col) ? json_array_get(col, i) : col))
				return oom();
	}
	return 0;
}

/* a list of records, lists or scalars */
static int rows_from_array(json_t *rows, const json_t *a, const json_t *cols, const char *const *names, size_t nnames)
{
	size_t i;
	json_t *v;
	int rc;

	json_array_foreach((json_t *)a, i, v) {
		if (json_is_object(v)) {
			if (json_array_append(rows, v))
				return oom();
		} else if ((rc = row_from_list(rows, v, cols, names, nnames))) {
			return rc;
		}
	}
	return 0;
}

/* the Open Inference Protocol: one [n, k] tensor, or one [n] tensor per column */
static int rows_from_oip(json_t *rows, const json_t *inputs, const char *const *names, size_t nnames)
{
	size_t ntensors = json_array_size(inputs), n = 0;
	json_t *t0 = json_array_get(inputs, 0), *shape = json_object_get(t0, "shape");

	if (!ntensors)
		return bad("an Open Inference Protocol request without inputs");
	if (ntensors == 1 && json_array_size(shape) == 2) {
		json_int_t r = json_integer_value(json_array_get(shape, 0)), k = json_integer_value(json_array_get(shape, 1));
		json_t *data = json_object_get(t0, "data");
		size_t total = json_array_size(data);

		if (r <= 0 || k <= 0 || !json_is_array(data))
			return bad("an Open Inference Protocol tensor without its shape or data");
		/* data may be flat (row-major) or nested */
		if (total == (size_t)r && json_is_array(json_array_get(data, 0)))
			return rows_from_array(rows, data, NULL, names, nnames);
		if (total != (size_t)(r * k))
			return bad("an Open Inference Protocol tensor whose data does not match its shape");
		for (json_int_t i = 0; i < r; i++) {
			json_t *row = json_array(), *named;
			int rc;

			for (json_int_t j = 0; j < k && row; j++)
				if (json_array_append(row, json_array_get(data, (size_t)(i * k + j))))
					json_decref(row), row = NULL;
			if (!row)
				return oom();
			named = NULL;
			rc = row_from_list(rows, row, named, names, nnames);
			json_decref(row);
			if (rc)
				return rc;
		}
		return 0;
	}
	for (size_t t = 0; t < ntensors; t++) {
		size_t m = json_array_size(json_object_get(json_array_get(inputs, t), "data"));

		if (t && m != n)
			return bad("Open Inference Protocol tensors of different lengths");
		n = m;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_object();

		if (!row || json_array_append_new(rows, row))
			return oom();
		for (size_t t = 0; t < ntensors; t++) {
			json_t *tensor = json_array_get(inputs, t), *v = json_array_get(json_object_get(tensor, "data"), i);
			const char *name = json_string_value(json_object_get(tensor, "name"));

			if (!name)
				return bad("an Open Inference Protocol tensor without a name");
			if (json_object_set(row, name, json_is_array(v) && json_array_size(v) == 1 ? json_array_get(v, 0) : v))
				return oom();
		}
	}
	return 0;
}

/* text/csv: a header row, then rows */
struct csv_rows {
	json_t *rows, *header;
};

static int csv_row(void *ctx, const struct ccsv_record *rec)
{
	struct csv_rows *c = ctx;
	json_t *row;

	if (!c->header) {
		if (!(c->header = json_array()))
			return oom();
		for (size_t i = 0; i < rec->nfields; i++)
			if (json_array_append_new(c->header, json_stringn(rec->fields[i].p, rec->fields[i].n)))
				return bad("a CSV header that is not UTF-8");
		return 0;
	}
	if (rec->nfields != json_array_size(c->header))
		return bad("a CSV row with more or fewer fields than its header");
	if (!(row = json_object()) || json_array_append_new(c->rows, row))
		return oom();
	for (size_t i = 0; i < rec->nfields; i++) {
		json_t *v = rec->fields[i].n ? json_stringn(rec->fields[i].p, rec->fields[i].n) : json_null();

		if (!v || json_object_set_new(row, json_string_value(json_array_get(c->header, i)), v))
			return bad("a CSV value that is not UTF-8");
	}
	return 0;
}

static int inputs_to_rows(json_t *rows, const json_t *in, const char *const *names, size_t nnames)
{
	json_t *v;

	if (json_is_string(in)) {
		struct csv_rows c = { rows, NULL };
		int rc = ccsv_read(json_string_value(in), json_string_length(in), NULL, csv_row, &c);

		json_decref(c.header);
		return rc < 0 ? rc : 0;
	}
	if (!json_is_object(in))
		return bad("the body is not a JSON object");
	if ((v = json_object_get(in, "dataframe_split"))) {
		json_t *cols = json_object_get(v, "columns"), *data = json_object_get(v, "data");

		if (!json_is_array(data))
			return bad("dataframe_split without data");
		return rows_from_array(rows, data, json_is_array(cols) ? cols : NULL, names, nnames);
	}
	if ((v = json_object_get(in, "dataframe_records"))) {
		if (!json_is_array(v))
			return bad("dataframe_records is not a list");
		return rows_from_array(rows, v, NULL, names, nnames);
	}
	if ((v = json_object_get(in, "inputs")) && json_is_array(v) && json_is_object(json_array_get(v, 0)) &&
	    json_object_get(json_array_get(v, 0), "datatype"))
		return rows_from_oip(rows, v, names, nnames);
	if (!(v = json_object_get(in, "instances")) && !(v = json_object_get(in, "inputs")))
		return bad("no dataframe_split, dataframe_records, instances or inputs");
	if (json_is_object(v))
		return rows_from_columns(rows, v);
	if (json_is_array(v))
		return rows_from_array(rows, v, NULL, names, nnames);
	return bad("instances/inputs is neither a list nor an object of columns");
}

/* the answer's predictions, as a list (NULL when there are none) */
static const json_t *predictions(const json_t *out)
{
	const json_t *p;

	if (json_is_array(out))
		return out;
	if ((p = json_object_get(out, "predictions")))
		return p;
	if ((p = json_object_get(out, "outputs")) && json_is_array(p))   /* OIP: the first output's data */
		return json_object_get(json_array_get(p, 0), "data");
	return NULL;
}

int monitor_rows(const json_t *input, const json_t *output, const char *const *names, size_t nnames, json_t **out)
{
	json_t *rows = json_array();
	const json_t *pred;
	int rc;

	*out = NULL;
	if (!rows)
		return oom();
	if ((rc = inputs_to_rows(rows, input, names, nnames))) {
		json_decref(rows);
		return rc;
	}
	pred = output ? predictions(output) : NULL;
	if (json_is_array(pred)) {
		size_t n = json_array_size(rows), m = json_array_size(pred);
		bool flat_ok = m == n;

		if (!flat_ok && n && m % n == 0 && !json_is_array(json_array_get(pred, 0)))
			flat_ok = false;   /* a flat OIP output of k values a row: not split here */
		for (size_t i = 0; flat_ok && i < n; i++) {
			json_t *row = json_array_get(rows, i), *p = json_array_get(pred, i);

			if (json_is_array(p)) {
				for (size_t k = 0; k < json_array_size(p) && k < 16; k++) {
					char name[32];

					snprintf(name, sizeof(name), "prediction_%zu", k);
					if (json_object_set(row, name, json_array_get(p, k)))
						goto nomem;
				}
			} else if (json_object_set(row, "prediction", p)) {
				goto nomem;
			}
		}
	}
	*out = rows;
	return 0;
nomem:
	json_decref(rows);
	return oom();
}
