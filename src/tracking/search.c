/* search.c - MLflow's search grammar: a hand-written scanner and parser that
 * compiles the filters and order_by clauses of runs, experiments, registered
 * models, model versions and logged models into SQL.
 *
 * The grammar (mlflow/utils/search_utils.py: SearchUtils and its subclasses
 * for experiments, registered models and model versions; for logged models
 * mlflow/utils/search_logged_model_utils.py, which MLflow's SQL store uses) is
 *     filter  := clause { AND clause }            AND in any case
 *     clause  := ident comparator value
 *     ident   := [type '.'] key                   no type: an attribute
 *     type    := word | `word`
 *     key     := word { '.' word } | `...` | "..."
 *     value   := '...' | "..." | number | '(' string { ',' string } [','] ')'
 *     order   := ident [ASC | DESC]
 * Inside quotes a doubled quote, or a backslash before the quote, stands for
 * the quote itself (MLflow keeps such escapes verbatim in the value; cairn
 * undoes them, so that 'it''s' and "it's" match the same tag). A logged
 * model's order_by is "<field_name> [ASC|DESC]" instead, field_name taken
 * verbatim: MLflow gets it as a JSON object, not as text to parse.
 *
 * One parser serves the five searches; a `struct grammar` describes each one:
 * its entity types, its attribute keys (column, numeric or string, allowed
 * comparators, whether a list may be given), the tables that hold its tags,
 * params and metrics, the order_by used when none is given and the
 * tie-breakers appended to every order. Where the five MLflow code paths word
 * their errors differently, or check the comparator before the value (logged
 * models), the grammar's kind picks the wording.
 *
 * Checks run in MLflow's order (identifier, then the value's type, then the
 * comparator) so the first error reported is the one MLflow reports, with
 * MLflow's message text; Python sets in those messages print as sorted lists.
 * Each clause becomes one self-contained predicate (an EXISTS subquery, or a
 * comparison on a column of the searched row) and each literal a bind.
 *
 * Registered models and model versions hide prompts (MLflow's
 * _update_query_to_exclude_prompts): unless the first clause on the tag
 * `mlflow.prompt.is_prompt` is "= 'true'" or "!= 'false'" (value in any
 * case), rows whose model carries that tag with value 'true' are left out and
 * every clause on that tag is ignored.
 *
 * Deliberate differences from MLflow: two clauses must have an AND between
 * them (MLflow silently accepts "a = 1 b = 2"); a list value needs IN or NOT
 * IN, and IN or NOT IN a list (MLflow fails later, in its SQL layer);
 * order_by may carry surrounding blanks; duplicate order_by keys are an
 * INVALID_PARAMETER_VALUE (MLflow: an internal error); NaN metrics satisfy
 * only '!=' (MLflow's SQL store compares the stored 0 instead); IN lists of
 * dataset values keep upper-case entries (MLflow drops them, a MySQL
 * workaround meant for run ids only). Registry and logged-model searches:
 * attribute keys may be quoted ("name", `name`); model versions take
 * version_number = '3' as the number 3 and refuse a string that is no number
 * (MLflow hands it to the database); order_by tags.<key> on model versions is
 * refused even when <key> is an attribute name. Logged models: comparators
 * and bare-word values are as strict as for runs (MLflow's logged-model
 * parser takes 'like' only in upper case, and a bare word as a string), a
 * numeric literal compared with a string field is taken as its text (MLflow's
 * own example: params.lr = 0.01); metrics compare their latest value
 * (greatest timestamp, then step), where MLflow's SQL store matches a model
 * if any logged value matches; status compares the short names READY,
 * PENDING, FAILED, UNSPECIFIED (also written LOGGED_MODEL_READY... or 0-3);
 * an unknown attribute is INVALID_PARAMETER_VALUE (MLflow: an internal
 * error); the comparator message lists the comparators that apply (MLflow
 * always lists the string ones); duplicate order_by fields are allowed, as
 * MLflow does.
 */
#include "tracking/search.h"
#include "core/fault.h"
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX_CLAUSES 250  /* SQLite refuses expressions deeper than 1000 */
#define SEARCH_MAX_ORDER 50     /* each key is two ORDER BY terms */
#define SEARCH_MAX_BINDS 20000  /* SQLite allows 32766 parameters; leave the caller room */
#define ECHO 200                /* at most this many bytes of input are quoted in a message */

enum ent { ENT_METRIC, ENT_PARAM, ENT_TAG, ENT_ATTR, ENT_DATASET };

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_LIKE, OP_ILIKE, OP_IN, OP_NOT_IN, OP_BAD };

static const char *const op_text[] = { "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN" };
/* The order in which Python's sorted() lists comparators. */
static const enum op op_sorted[] = { OP_NE, OP_LT, OP_LE, OP_EQ, OP_GT, OP_GE, OP_ILIKE, OP_IN, OP_LIKE, OP_NOT_IN };

#define OPB(o) (1u << (o))
#define OPS_NUM (OPB(OP_EQ) | OPB(OP_NE) | OPB(OP_LT) | OPB(OP_LE) | OPB(OP_GT) | OPB(OP_GE))
#define OPS_STR (OPB(OP_EQ) | OPB(OP_NE) | OPB(OP_LIKE) | OPB(OP_ILIKE))
#define OPS_LIST (OPS_STR | OPB(OP_IN) | OPB(OP_NOT_IN))

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Which search a grammar is for: MLflow words its errors differently in each. */
enum kind { K_RUNS, K_EXPERIMENTS, K_MODELS, K_VERSIONS, K_LOGGED };

struct entity {
	const char *name; /* as written before the dot */
	enum ent ent;     /* what it names */
};

static const struct entity run_entities[] = {
	{ "metric", ENT_METRIC },    { "metrics", ENT_METRIC },    { "parameter", ENT_PARAM },
	{ "parameters", ENT_PARAM }, { "param", ENT_PARAM },        { "params", ENT_PARAM },
	{ "tag", ENT_TAG },          { "tags", ENT_TAG },           { "attribute", ENT_ATTR },
	{ "attr", ENT_ATTR },        { "attributes", ENT_ATTR },    { "run", ENT_ATTR },
	{ "dataset", ENT_DATASET },  { "datasets", ENT_DATASET },
};

/* Experiments, registered models and model versions. */
static const struct entity tag_entities[] = {
	{ "attribute", ENT_ATTR }, { "tag", ENT_TAG }, { "tags", ENT_TAG },
};

static const struct entity logged_entities[] = {
	{ "attributes", ENT_ATTR }, { "metrics", ENT_METRIC }, { "params", ENT_PARAM }, { "tags", ENT_TAG },
};

/* Attribute flags. */
#define A_NUM 0x01u    /* numeric: compared with numbers */
#define A_FILTER 0x02u /* may appear in a filter */
#define A_ORDER 0x04u  /* may appear in an order_by */
#define A_LIST 0x08u   /* may be compared with a list of strings */
#define A_LOWER 0x10u  /* list items that are not lower case are dropped (run ids, as MLflow does) */
#define A_NULLS 0x20u  /* ordering puts NULLs last */
#define A_STATUS 0x40u /* a logged model's status: values are mapped to its short names */

struct attr {
	const char *key;  /* as written in a filter or order_by */
	const char *col;  /* the column (or expression) it reads */
	unsigned flags;   /* A_* */
	unsigned ops;     /* comparators allowed in a filter */
	const char *ocol; /* what order_by sorts on, when not col */
};

#define RUN_NUM A_NUM | A_FILTER | A_ORDER | A_NULLS, OPS_NUM, NULL
#define RUN_STR A_FILTER | A_ORDER | A_NULLS, OPS_LIST, NULL
#define RUN_ALIAS A_FILTER | A_NULLS, OPS_LIST, NULL

/* In ASCII order, as MLflow's messages list them. */
static const struct attr run_attrs[] = {
	{ "Created", "r.start_time", RUN_NUM },
	{ "Run Name", "r.name", RUN_ALIAS },
	{ "Run name", "r.name", RUN_ALIAS },
	{ "artifact_uri", "r.artifact_uri", RUN_STR },
	{ "created", "r.start_time", RUN_NUM },
	{ "end_time", "r.end_time", RUN_NUM },
	{ "run name", "r.name", RUN_ALIAS },
	{ "run_id", "r.run_uuid", A_FILTER | A_ORDER | A_NULLS | A_LIST | A_LOWER, OPS_LIST, NULL },
	{ "run_name", "r.name", RUN_STR },
	{ "start_time", "r.start_time", RUN_NUM },
	{ "status", "r.status", RUN_STR },
	{ "user_id", "r.user_id", RUN_STR },
};

static const struct attr exp_attrs[] = {
	{ "creation_time", "e.creation_time", A_NUM | A_FILTER | A_ORDER, OPS_NUM, NULL },
	{ "experiment_id", "e.experiment_id", A_NUM | A_ORDER, OPS_NUM, NULL },
	{ "last_update_time", "e.last_update_time", A_NUM | A_FILTER | A_ORDER, OPS_NUM, NULL },
	{ "name", "e.name", A_FILTER | A_ORDER, OPS_STR, NULL },
};

/* MLflow's SQL store orders registered models by name, timestamp or
 * last_updated_timestamp, both of the latter on the last update time. */
static const struct attr model_attrs[] = {
	{ "last_updated_timestamp", "m.last_updated_time", A_NUM | A_ORDER, OPS_NUM, NULL },
	{ "name", "m.name", A_FILTER | A_ORDER, OPS_STR, NULL },
	{ "timestamp", "m.last_updated_time", A_NUM | A_ORDER, OPS_NUM, NULL },
};

static const struct attr version_attrs[] = {
	{ "creation_timestamp", "v.creation_time", A_NUM | A_ORDER, OPS_NUM, NULL },
	{ "last_updated_timestamp", "v.last_updated_time", A_NUM | A_ORDER, OPS_NUM, NULL },
	{ "name", "m.name", A_FILTER | A_ORDER, OPS_STR, NULL },
	{ "run_id", "v.run_id", A_FILTER | A_LIST | A_LOWER, OPS_STR | OPB(OP_IN), NULL },
	{ "source_path", "v.source", A_FILTER, OPS_STR, NULL },
	{ "version_number", "v.version", A_NUM | A_FILTER | A_ORDER, OPS_NUM, NULL },
};

/* The table stores the proto enum names; MLflow's entities (and its file
 * store's filters) use the short ones, which order as the enum's numbers. */
#define LM_STATUS                                                                                       \
	"(CASE lm.status WHEN 'LOGGED_MODEL_READY' THEN 'READY' WHEN 'LOGGED_MODEL_PENDING' THEN 'PENDING' " \
	"WHEN 'LOGGED_MODEL_UPLOAD_FAILED' THEN 'FAILED' WHEN 'LOGGED_MODEL_STATUS_UNSPECIFIED' "            \
	"THEN 'UNSPECIFIED' ELSE lm.status END)"
#define LM_STATUS_RANK                                                                           \
	"(CASE lm.status WHEN 'LOGGED_MODEL_STATUS_UNSPECIFIED' THEN 0 WHEN 'LOGGED_MODEL_PENDING' " \
	"THEN 1 WHEN 'LOGGED_MODEL_READY' THEN 2 WHEN 'LOGGED_MODEL_UPLOAD_FAILED' THEN 3 END)"
#define LM_NUM A_NUM | A_FILTER | A_ORDER | A_NULLS, OPS_NUM, NULL
#define LM_STR A_FILTER | A_ORDER | A_NULLS | A_LIST, OPS_LIST, NULL

static const struct attr logged_attrs[] = {
	{ "creation_time", "lm.creation_time", LM_NUM },
	{ "creation_timestamp", "lm.creation_time", LM_NUM },
	{ "last_updated_time", "lm.last_updated_time", LM_NUM },
	{ "last_updated_timestamp", "lm.last_updated_time", LM_NUM },
	{ "model_id", "lm.model_id", LM_STR },
	{ "model_type", "lm.model_type", LM_STR },
	{ "name", "lm.name", LM_STR },
	{ "source_run_id", "lm.source_run_id", LM_STR },
	{ "status", LM_STATUS, A_FILTER | A_ORDER | A_NULLS | A_LIST | A_STATUS, OPS_LIST, LM_STATUS_RANK },
};

/* A key/value table (tags or params) of the searched rows. */
struct kv {
	const char *table; /* NULL: the search has none */
	const char *alias;
	const char *owner; /* the condition tying a row of it (under alias) to the searched row */
};

/* An ORDER BY term appended unless its column was ordered on already. */
struct tiebreak {
	const char *col;
	const char *term;
};

struct grammar {
	enum kind kind;
	const struct entity *ents;  /* entity type names */
	size_t nents;
	const struct attr *attrs;   /* attribute keys */
	size_t nattrs;
	struct kv tags, params;
	unsigned kv_ops;            /* comparators for tags and params */
	const char *metric_alias;   /* the latest value of a metric: "(SELECT <alias>.value<metric_from>)" */
	const char *metric_from;
	const char *prompts;        /* predicate hiding prompts (see above), or NULL */
	const char *const *defaults; /* order_by when none is given */
	size_t ndefaults;
	const struct tiebreak *ties; /* appended to every order */
	size_t nties;
};

static const struct grammar run_grammar = {
	K_RUNS, run_entities, N(run_entities), run_attrs, N(run_attrs),
	{ "tags", "t", "t.run_uuid = r.run_uuid" }, { "params", "p", "p.run_uuid = r.run_uuid" }, OPS_STR,
	"m", " FROM latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = ?",
	NULL, NULL, 0, NULL, 0,
};

static const struct grammar exp_grammar = {
	K_EXPERIMENTS, tag_entities, N(tag_entities), exp_attrs, N(exp_attrs),
	{ "experiment_tags", "et", "et.experiment_id = e.experiment_id" }, { NULL, NULL, NULL }, OPS_STR,
	NULL, NULL, NULL, NULL, 0, NULL, 0,
};

#define PROMPT_TAG "mlflow.prompt.is_prompt"

static const struct tiebreak model_ties[] = { { "m.name", "m.name ASC" } };

static const struct grammar model_grammar = {
	K_MODELS, tag_entities, N(tag_entities), model_attrs, N(model_attrs),
	{ "registered_model_tags", "t", "t.model = m.id" }, { NULL, NULL, NULL }, OPS_STR,
	NULL, NULL,
	"NOT EXISTS (SELECT 1 FROM registered_model_tags pt WHERE pt.model = m.id "
	"AND pt.key = '" PROMPT_TAG "' AND pt.value = 'true')",
	NULL, 0, model_ties, N(model_ties),
};

static const char *const version_defaults[] = { "last_updated_timestamp DESC", "name ASC", "version_number DESC" };
static const struct tiebreak version_ties[] = { { "m.name", "m.name ASC" }, { "v.version", "v.version DESC" } };

/* MLflow hides every version of a model any of whose versions is tagged a prompt. */
static const struct grammar version_grammar = {
	K_VERSIONS, tag_entities, N(tag_entities), version_attrs, N(version_attrs),
	{ "model_version_tags", "t", "t.model = v.model AND t.version = v.version" }, { NULL, NULL, NULL }, OPS_STR,
	NULL, NULL,
	"NOT EXISTS (SELECT 1 FROM model_version_tags pt WHERE pt.model = v.model "
	"AND pt.key = '" PROMPT_TAG "' AND pt.value = 'true')",
	version_defaults, N(version_defaults), version_ties, N(version_ties),
};

static const struct tiebreak logged_ties[] = {
	{ "lm.creation_time", "lm.creation_time DESC" }, { "lm.model_id", "lm.model_id ASC" },
};

/* A metric's latest value: greatest timestamp, then step; among equals a
 * number before NaN, the greatest number first; read from table (all of a
 * model's metrics, or lm_scope: those of a `datasets` filter, which the
 * caller's SQL defines in a WITH clause). */
#define LOGGED_GRAMMAR(table) { \
	K_LOGGED, logged_entities, N(logged_entities), logged_attrs, N(logged_attrs), \
	{ "logged_model_tags", "t", "t.model_id = lm.model_id" }, \
	{ "logged_model_params", "p", "p.model_id = lm.model_id" }, OPS_LIST, \
	"x", " FROM " table " x WHERE x.model_id = lm.model_id AND x.key = ? " \
	     "ORDER BY x.timestamp DESC, x.step DESC, x.is_nan, x.value DESC LIMIT 1", \
	NULL, NULL, 0, logged_ties, N(logged_ties), \
}
static const struct grammar logged_grammar = LOGGED_GRAMMAR("logged_model_metrics");
static const struct grammar logged_scoped_grammar = LOGGED_GRAMMAR("lm_scope");

struct parser {
	const char *s;              /* the text: a whole filter, or one order_by entry */
	size_t pos;                 /* scanning position in s */
	const struct grammar *g;    /* which search */
	struct search_sql *out;     /* where SQL and binds go */
	bool prompt_seen;           /* a clause on the prompt tag was met */
	bool prompt_query;          /* ... and it asks for prompts: they are not hidden */
};

struct ident {
	size_t start, end;          /* span in the parser's text */
	bool has_type;              /* written as <type>.<key> */
	struct buf type;            /* the type, backticks removed */
	struct buf key;             /* the key, quotes removed */
	enum ent ent;               /* resolved entity */
	const struct attr *attr;    /* resolved attribute, for ENT_ATTR */
};

enum vkind {
	VAL_STRING, /* '...' or "..." */
	VAL_NUMBER, /* a numeric literal */
	VAL_LIST,   /* ( ... ) */
	VAL_WORD,   /* an unquoted or backticked name: MLflow's "not quoted" case */
	VAL_OTHER,  /* anything else that runs up to a blank */
};

struct value {
	enum vkind kind;
	size_t start, end;          /* span in the parser's text */
	struct buf text;            /* VAL_STRING: the unescaped string */
	bool is_int;                /* VAL_NUMBER: an integer literal that fits int64 */
	int64_t i;                  /* VAL_NUMBER, when is_int */
	double d;                   /* VAL_NUMBER */
	struct buf items;           /* VAL_LIST: the strings, each NUL-terminated */
	size_t nitems;              /* VAL_LIST: how many */
};

/* Record an INVALID_PARAMETER_VALUE message and return CAIRN_EINVALID. */
static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(CAIRN_EINVALID, "%s", msg);
}

static int echo(size_t n)
{
	return n > ECHO ? ECHO : (int)n;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Python's \w for ASCII, and every byte of a UTF-8 sequence. */
static bool is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c >= 0x80;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_quote(unsigned char c)
{
	return c == '\'' || c == '"' || c == '`';
}

static void skip_ws(struct parser *p)
{
	while (is_space((unsigned char)p->s[p->pos]))
		p->pos++;
}

/* Length of the word at p->s + at (0 when none). */
static size_t word_len(const struct parser *p, size_t at)
{
	size_t n = 0;

	while (is_word((unsigned char)p->s[at + n]))
		n++;
	return n;
}

static bool word_is(const struct parser *p, size_t at, size_t n, const char *kw)
{
	return n == strlen(kw) && !strncasecmp(p->s + at, kw, n);
}

/* Scan the quoted token at p->pos (its first byte is the quote) into out and
 * move past it. A doubled quote, or for ' and " a backslash before the quote,
 * stands for the quote. Like sqlparse's regular expressions, a string that
 * would run off the end falls back to ending at its last escaped quote. */
static int scan_quoted(struct parser *p, struct buf *out)
{
	const char q = p->s[p->pos];
	size_t i = p->pos + 1, mark = 0, mark_len = 0;
	bool marked = false, mark_bs = false;

	for (;;) {
		char c = p->s[i];

		if (!c) {
			if (!marked)
				return bad("Invalid filter string: unterminated quoted string %.*s",
					   echo(i - p->pos), p->s + p->pos);
			/* back off the last escape: its quote closes the token */
			buf_truncate(out, mark_len);
			if (mark_bs)
				buf_putc(out, '\\');
			i = mark;
			break;
		}
		if (c == q && p->s[i + 1] == q) {
			marked = true, mark = i, mark_len = out->len, mark_bs = false;
			buf_putc(out, q);
			i += 2;
		} else if (c == q) {
			break;
		} else if (c == '\\' && q != '`' && p->s[i + 1] == q) {
			marked = true, mark = i + 1, mark_len = out->len, mark_bs = true;
			buf_putc(out, q);
			i += 2;
		} else {
			buf_putc(out, c);
			i++;
		}
	}
	p->pos = i + 1;
	return buf_error(out);
}

static void ident_init(struct ident *id)
{
	memset(id, 0, sizeof(*id));
	buf_init(&id->type, 0);
	buf_init(&id->key, 0);
}

static void ident_release(struct ident *id)
{
	buf_release(&id->type);
	buf_release(&id->key);
}

static void value_init(struct value *v)
{
	memset(v, 0, sizeof(*v));
	buf_init(&v->text, 0);
	buf_init(&v->items, 0);
}

static void value_release(struct value *v)
{
	buf_release(&v->text);
	buf_release(&v->items);
}

static int bad_identifier(const struct parser *p, size_t start)
{
	size_t n = p->pos - start + (p->s[p->pos] ? 1 : 0);

	return bad("Invalid identifier '%.*s'. Columns should be specified as 'attribute.<key>', "
		   "'metric.<key>', 'tag.<key>', 'dataset.<key>', or 'param.<key>'.",
		   echo(n), p->s + start);
}

/* Parse [type '.'] key at p->pos. Syntax only: resolve_ident() gives meaning. */
static int parse_ident(struct parser *p, struct ident *id)
{
	size_t start = p->pos;
	unsigned char c = (unsigned char)p->s[p->pos];
	struct buf *first = &id->key;
	char quote = 0;
	int rc;

	id->start = start;
	if (c == '`' || c == '"') {
		quote = (char)c;
		if ((rc = scan_quoted(p, first)))
			return rc;
	} else if (is_word(c)) {
		size_t n = word_len(p, p->pos);
		buf_put(first, p->s + p->pos, n);
		p->pos += n;
	} else {
		return bad("Invalid comparison clause. Expected 'Identifier' found '%.*s'",
			   echo(strlen(p->s + start)), p->s + start);
	}
	if (p->s[p->pos] != '.') {
		id->end = p->pos;
		return buf_error(first);
	}

	/* <type>.<key>: the part read so far is the type */
	id->has_type = true;
	if (quote == '"') /* never an entity type: MLflow reports it with its quotes */
		buf_put(&id->type, p->s + start, p->pos - start);
	else
		buf_put(&id->type, first->ptr, first->len);
	buf_clear(first);
	p->pos++;
	c = (unsigned char)p->s[p->pos];
	if (c == '`' || c == '"') {
		if ((rc = scan_quoted(p, &id->key)))
			return rc;
		c = (unsigned char)p->s[p->pos];
		if (c == '.' || is_quote(c))
			return bad_identifier(p, start);
	} else if (is_word(c)) {
		for (;;) {
			size_t n = word_len(p, p->pos);

			buf_put(&id->key, p->s + p->pos, n);
			p->pos += n;
			if (p->s[p->pos] != '.')
				break;
			if (!is_word((unsigned char)p->s[p->pos + 1]))
				return bad_identifier(p, start);
			buf_putc(&id->key, '.');
			p->pos++;
		}
		if (is_quote((unsigned char)p->s[p->pos]))
			return bad_identifier(p, start);
	} else {
		return bad_identifier(p, start);
	}
	id->end = p->pos;
	if ((rc = buf_error(&id->type)))
		return rc;
	return buf_error(&id->key);
}

/* Append ['k1', 'k2', ...]: the attribute keys with any of the flags in mask. */
static void put_attr_keys(struct buf *b, const struct grammar *g, unsigned mask)
{
	bool any = false;

	buf_putc(b, '[');
	for (size_t i = 0; i < g->nattrs; i++) {
		if (!(g->attrs[i].flags & mask))
			continue;
		buf_printf(b, "%s'%s'", any ? ", " : "", g->attrs[i].key);
		any = true;
	}
	buf_putc(b, ']');
}

static int bad_entity(const struct grammar *g, const struct ident *id)
{
	int n = echo(id->type.len);

	switch (g->kind) {
	case K_RUNS:
		return bad("Invalid entity type '%.*s'. Valid values are "
			   "['metric', 'parameter', 'tag', 'attribute', 'dataset']", n, id->type.ptr);
	case K_LOGGED:
		return bad("Invalid entity type: '%.*s'. Expected one of ['attributes', 'metrics', 'params', 'tags'].",
			   n, id->type.ptr);
	default:
		return bad("Invalid entity type '%.*s'. Valid entity types are ('attribute', 'tag', 'tags')", n,
			   id->type.ptr);
	}
}

/* Registered models order by a bare key (MLflow matches the text against its key set). */
static int resolve_model_order(struct parser *p, struct ident *id)
{
	const char *raw = id->has_type ? p->s + id->start : id->key.ptr;
	size_t n = id->has_type ? id->end - id->start : id->key.len;

	id->ent = ENT_ATTR;
	for (size_t i = 0; i < p->g->nattrs && !id->has_type; i++) {
		if ((p->g->attrs[i].flags & A_ORDER) && !strcmp(id->key.ptr, p->g->attrs[i].key)) {
			id->attr = &p->g->attrs[i];
			return 0;
		}
	}
	return bad("Invalid order by key '%.*s' specified. Valid keys are '['name', 'timestamp']'", echo(n), raw);
}

/* Give the parsed identifier its entity and, for attributes, its column. */
static int resolve_ident(struct parser *p, struct ident *id, bool order)
{
	const struct grammar *g = p->g;
	unsigned want = order ? A_ORDER : A_FILTER;
	size_t i;

	if (order && g->kind == K_MODELS)
		return resolve_model_order(p, id);
	id->ent = ENT_ATTR;
	if (id->has_type) {
		for (i = 0; i < g->nents; i++)
			if (!strcmp(id->type.ptr, g->ents[i].name))
				break;
		if (i == g->nents)
			return bad_entity(g, id);
		id->ent = g->ents[i].ent;
	}
	if (id->ent == ENT_ATTR) {
		struct buf keys = BUF_INIT;
		int rc;

		for (i = 0; i < g->nattrs; i++) {
			const struct attr *a = &g->attrs[i];
			if ((a->flags & want) && !strcmp(id->key.ptr, a->key)) {
				id->attr = a;
				return 0;
			}
		}
		put_attr_keys(&keys, g, want);
		rc = bad("Invalid attribute key '%.*s' specified. Valid keys are '%s'", echo(id->key.len),
			 id->key.ptr, keys.ptr);
		buf_release(&keys);
		return rc;
	}
	if (id->ent == ENT_DATASET && strcmp(id->key.ptr, "name") && strcmp(id->key.ptr, "digest") &&
	    strcmp(id->key.ptr, "context"))
		return bad("Invalid dataset key '%.*s' specified. Valid keys are '['context', 'digest', 'name']'",
			   echo(id->key.len), id->key.ptr);
	return 0;
}

/* Parse a comparator; unknown ones come back as OP_BAD with their span. */
static int parse_comparator(struct parser *p, const struct ident *id, enum op *op, size_t *start, size_t *end)
{
	unsigned char c;

	skip_ws(p);
	c = (unsigned char)p->s[p->pos];
	*start = p->pos;
	*op = OP_BAD;
	if (!c)
		return bad("Invalid comparison clause '%.*s': missing comparator", echo(id->end - id->start),
			   p->s + id->start);
	if (strchr("<>=!~", c)) {
		static const enum op sym[] = { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
		size_t n = 0;

		while (p->s[p->pos + n] && strchr("<>=!~", p->s[p->pos + n]))
			n++;
		for (size_t i = 0; i < sizeof(sym) / sizeof(sym[0]); i++)
			if (n == strlen(op_text[sym[i]]) && !strncmp(p->s + p->pos, op_text[sym[i]], n))
				*op = sym[i];
		p->pos += n;
	} else if (is_word(c) && !is_digit(c)) {
		size_t n = word_len(p, p->pos);

		if (word_is(p, p->pos, n, "LIKE"))
			*op = OP_LIKE;
		else if (word_is(p, p->pos, n, "ILIKE"))
			*op = OP_ILIKE;
		else if (word_is(p, p->pos, n, "IN"))
			*op = OP_IN;
		p->pos += n;
		if (word_is(p, *start, n, "NOT")) { /* NOT IN, or some NOT <word> to report */
			size_t at = p->pos, m;

			while (is_space((unsigned char)p->s[at]))
				at++;
			m = word_len(p, at);
			if (m && at > p->pos) {
				if (word_is(p, at, m, "IN"))
					*op = OP_NOT_IN;
				p->pos = at + m;
			}
		}
	} else {
		return bad("Invalid comparison clause. Expected comparison found '%.*s'",
			   echo(strlen(p->s + p->pos)), p->s + p->pos);
	}
	*end = p->pos;
	return 0;
}

/* sqlparse's numbers: -?\d+(\.\d+)?E-?\d+, -?(\d+\.\d*|\.\d+) or -?\d+, not
 * followed by a word character. Returns the length, 0 if none. */
static size_t number_len(const char *s)
{
	size_t i = 0, ip = 0, fp = 0;
	bool dot = false;

	if (s[i] == '-')
		i++;
	while (is_digit((unsigned char)s[i]))
		i++, ip++;
	if (s[i] == '.') {
		dot = true;
		i++;
		while (is_digit((unsigned char)s[i]))
			i++, fp++;
	}
	if (!ip && !fp)
		return 0;
	if ((s[i] == 'e' || s[i] == 'E') && ip && (!dot || fp)) {
		size_t j = i + 1;

		if (s[j] == '-')
			j++;
		if (is_digit((unsigned char)s[j])) {
			while (is_digit((unsigned char)s[j]))
				j++;
			i = j;
		}
	}
	if (is_word((unsigned char)s[i]) || s[i] == '.')
		return 0;
	return i;
}

/* Convert the number literal s[0..n) (already checked by number_len). */
static int number_value(const char *s, size_t n, struct value *v)
{
	struct buf tmp = BUF_INIT;
	char *end;
	int rc;

	buf_put(&tmp, s, n);
	if ((rc = buf_error(&tmp))) {
		buf_release(&tmp);
		return rc;
	}
	v->d = strtod(tmp.ptr, &end); /* overflow gives +-HUGE_VAL, as Python's float() */
	v->is_int = false;
	if (!memchr(s, '.', n) && !memchr(s, 'e', n) && !memchr(s, 'E', n)) {
		long long x;

		errno = 0;
		x = strtoll(tmp.ptr, &end, 10);
		if (errno != ERANGE && *end == '\0') {
			v->is_int = true;
			v->i = (int64_t)x;
		}
	}
	buf_release(&tmp);
	return 0;
}

/* Find the end of a parenthesised list (p->pos is at '('), honouring quotes;
 * its items are read later by list_items(), once the value is known to be
 * wanted as a list. */
static int scan_list(struct parser *p)
{
	struct buf scratch = BUF_INIT;
	int depth = 0, rc = 0;

	for (;;) {
		char c = p->s[p->pos];

		if (!c) {
			rc = bad("While parsing a list in the query, expected a non-empty list of string values, "
				 "but got ill-formed list.");
			break;
		}
		if (c == '\'' || c == '"' || c == '`') {
			buf_clear(&scratch);
			if ((rc = scan_quoted(p, &scratch))) {
				rc = bad("While parsing a list in the query, expected a non-empty list of string "
					 "values, but got ill-formed list.");
				break;
			}
			continue;
		}
		p->pos++;
		if (c == '(')
			depth++;
		else if (c == ')' && --depth == 0)
			break;
	}
	buf_release(&scratch);
	return rc;
}

/* Parse the value after a comparator. */
static int parse_value(struct parser *p, const struct ident *id, size_t op_end, struct value *v)
{
	unsigned char c;
	size_t n;
	int rc = 0;

	skip_ws(p);
	c = (unsigned char)p->s[p->pos];
	v->start = p->pos;
	if (!c)
		return bad("Invalid comparison clause '%.*s': missing value", echo(op_end - id->start),
			   p->s + id->start);
	if (c == '\'' || c == '"') {
		v->kind = VAL_STRING;
		rc = scan_quoted(p, &v->text);
	} else if (c == '`') {
		v->kind = VAL_WORD;
		rc = scan_quoted(p, &v->text);
	} else if (c == '(') {
		v->kind = VAL_LIST;
		rc = scan_list(p);
	} else if ((n = number_len(p->s + p->pos))) {
		v->kind = VAL_NUMBER;
		rc = number_value(p->s + p->pos, n, v);
		p->pos += n;
	} else if (is_word(c) || c == '-' || c == '.' || c == '+') {
		v->kind = is_word(c) && !is_digit(c) ? VAL_WORD : VAL_OTHER;
		for (c = (unsigned char)p->s[p->pos]; is_word(c) || c == '.' || c == '-' || c == '+';
		     c = (unsigned char)p->s[++p->pos])
			;
	} else {
		return bad("Invalid comparison clause. Expected value token found '%.*s'",
			   echo(strlen(p->s + p->pos)), p->s + p->pos);
	}
	v->end = p->pos;
	return rc;
}

static int bad_list(const char *what)
{
	return bad("While parsing a list in the query, expected %s", what);
}

/* Read the strings of a VAL_LIST into v->items (Python literal_eval rules:
 * quoted strings separated by commas, a trailing comma allowed). */
static int list_items(struct parser *p, struct value *v)
{
	size_t save = p->pos, i = v->start + 1, end = v->end - 1;
	int rc = 0;

	for (;;) {
		unsigned char c;

		while (i < end && is_space((unsigned char)p->s[i]))
			i++;
		if (i == end)
			break;
		c = (unsigned char)p->s[i];
		if (c != '\'' && c != '"') {
			if (c == ',' || c == '(' || c == ')' || c == '`')
				rc = bad_list("a non-empty list of string values, but got ill-formed list.");
			else
				rc = bad("While parsing a list in the query, expected string value, punctuation, "
					 "or whitespace, but got different type in list: %.*s",
					 echo(v->end - v->start), p->s + v->start);
			goto out;
		}
		p->pos = i;
		if ((rc = scan_quoted(p, &v->items)))
			goto out;
		buf_putc(&v->items, '\0');
		v->nitems++;
		i = p->pos;
		while (i < end && is_space((unsigned char)p->s[i]))
			i++;
		if (i == end)
			break;
		if (p->s[i] != ',') {
			rc = bad_list("a non-empty list of string values, but got ill-formed list.");
			goto out;
		}
		i++;
	}
	if (!v->nitems)
		rc = bad_list("a non-empty list of string values, but got empty list");
	else
		rc = buf_error(&v->items);
out:
	p->pos = save;
	return rc;
}

static void put_ops(struct buf *b, unsigned mask)
{
	bool any = false;

	buf_putc(b, '[');
	for (size_t i = 0; i < sizeof(op_sorted) / sizeof(op_sorted[0]); i++) {
		if (!(mask & OPB(op_sorted[i])))
			continue;
		buf_printf(b, "%s'%s'", any ? ", " : "", op_text[op_sorted[i]]);
		any = true;
	}
	buf_putc(b, ']');
}

/* The comparator as MLflow prints it: upper-cased. */
static void put_op_raw(struct buf *b, const struct parser *p, size_t start, size_t end)
{
	for (size_t i = start; i < end && i - start < 40; i++) {
		char c = p->s[i];
		buf_putc(b, c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c);
	}
}

/* The comparator is not allowed (mask holds those that are): MLflow's words. */
static int bad_comparator(const struct parser *p, const struct ident *id, size_t start, size_t end, unsigned mask)
{
	static const char *const logged_ent[] = { "metrics", "params", "tags", "attributes", "datasets" };
	struct buf raw = BUF_INIT, ops = BUF_INIT;
	bool tag = id->ent == ENT_TAG, num = id->ent == ENT_ATTR && (id->attr->flags & A_NUM);
	int rc;

	put_op_raw(&raw, p, start, end);
	switch (p->g->kind) {
	case K_RUNS:
		put_ops(&ops, mask);
		rc = bad("Invalid comparator '%s' not one of '%s'", raw.ptr, ops.ptr);
		break;
	case K_EXPERIMENTS:
		rc = bad("Invalid comparator for %s: %s", tag ? "tag" : num ? "numeric attribute" : "string attribute",
			 raw.ptr);
		break;
	case K_MODELS:
	case K_VERSIONS:
		if (tag)
			rc = bad("Invalid comparator for tag: %s", raw.ptr);
		else if (num)
			rc = bad("Invalid comparator for attribute %s: %s", id->attr->key, raw.ptr);
		else
			rc = bad("Invalid comparator for attribute: %s", raw.ptr);
		break;
	default:
		rc = bad("Invalid comparison operator for %s.%.*s: '%s'. Expected one of %s.", logged_ent[id->ent],
			 echo(id->key.len), id->key.ptr, raw.ptr,
			 mask == OPS_NUM ? "('<', '<=', '>', '>=', '=', '!=')"
					 : "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')");
		break;
	}
	buf_release(&raw);
	buf_release(&ops);
	return rc;
}

/* The comparators the identifier allows. */
static unsigned allowed_ops(const struct grammar *g, const struct ident *id)
{
	switch (id->ent) {
	case ENT_METRIC:
		return OPS_NUM;
	case ENT_PARAM:
	case ENT_TAG:
		return g->kv_ops;
	case ENT_ATTR:
		return id->attr->ops;
	case ENT_DATASET:
		break;
	}
	return OPS_LIST;
}

/* A number where a logged model wants a string: its text, as MLflow takes it. */
static int number_as_text(const struct parser *p, struct value *v)
{
	v->kind = VAL_STRING;
	buf_put(&v->text, p->s + v->start, v->end - v->start);
	return buf_error(&v->text);
}

/* Check the value's type in MLflow's order; read a list's items. */
static int check_value(struct parser *p, const struct ident *id, struct value *v)
{
	const struct grammar *g = p->g;
	const char *vraw = p->s + v->start;
	int vn = echo(v->end - v->start);
	bool logged = g->kind == K_LOGGED, registry = g->kind == K_MODELS || g->kind == K_VERSIONS;
	struct buf keys = BUF_INIT;
	size_t n;
	int rc;

	switch (id->ent) {
	case ENT_METRIC:
		if (v->kind != VAL_NUMBER)
			return bad("Expected numeric value type for metric. Found %.*s", vn, vraw);
		return 0;
	case ENT_PARAM:
	case ENT_TAG:
		if (v->kind == VAL_WORD)
			goto not_quoted;
		if (v->kind == VAL_STRING)
			return 0;
		if (logged && v->kind == VAL_LIST)
			return list_items(p, v);
		if (logged && v->kind == VAL_NUMBER)
			return number_as_text(p, v);
		return bad("Expected a quoted string value for %s (e.g. 'my-value'). Got value %.*s",
			   id->ent == ENT_PARAM ? "parameter" : "tag", vn, vraw);
	case ENT_ATTR:
		if (id->attr->flags & A_NUM) {
			if (v->kind == VAL_NUMBER)
				return 0;
			if (g->kind == K_VERSIONS) { /* MLflow's SQL store lets the database convert a string */
				if (v->kind == VAL_WORD)
					goto not_quoted;
				if (v->kind == VAL_LIST)
					goto list_not_supported;
				if (v->kind == VAL_OTHER)
					goto not_string_or_list;
				if ((n = number_len(v->text.ptr)) && n == v->text.len) {
					v->kind = VAL_NUMBER;
					return number_value(v->text.ptr, n, v);
				}
			}
			return bad("Expected numeric value type for numeric attribute: %s. Found %.*s", id->attr->key,
				   vn, vraw);
		}
		if (v->kind == VAL_WORD)
			goto not_quoted;
		if (v->kind == VAL_STRING)
			return 0;
		if (v->kind == VAL_LIST) {
			if (!(id->attr->flags & A_LIST))
				goto list_not_supported;
			return list_items(p, v);
		}
		if (logged && v->kind == VAL_NUMBER)
			return number_as_text(p, v);
		if (g->kind == K_VERSIONS && v->kind == VAL_NUMBER) {
			put_attr_keys(&keys, g, A_NUM);
			rc = bad("Only the '%s' attributes support comparison with numeric values.", keys.ptr);
			buf_release(&keys);
			return rc;
		}
		if (registry)
			goto not_string_or_list;
		return bad("Expected a quoted string value for attributes. Got value %.*s", vn, vraw);
	case ENT_DATASET:
		if (v->kind == VAL_WORD)
			goto not_quoted;
		if (v->kind == VAL_LIST)
			return list_items(p, v);
		if (v->kind != VAL_STRING)
			return bad("Expected a quoted string value for dataset attributes. Got value %.*s", vn, vraw);
		return 0;
	}
	CAIRN_BUG("unknown entity");

list_not_supported:
	return bad("Only the 'run_id' attribute supports comparison with a list of quoted string values.");
not_string_or_list:
	return bad("Expected a quoted string value or a list of quoted string values for attributes. Got value %.*s",
		   vn, vraw);
not_quoted:
	return bad("Parameter value is either not quoted or unidentified quote types used for string value "
		   "%.*s. Use either single or double quotes.", vn, vraw);
}

/* Check the value and the comparator, in MLflow's order: logged models check
 * the comparator first, the others the value. */
static int check_clause(struct parser *p, const struct ident *id, enum op op, size_t op_start, size_t op_end,
			struct value *v)
{
	unsigned mask = allowed_ops(p->g, id);
	bool op_ok = op != OP_BAD && (mask & OPB(op));
	int rc;

	if (!op_ok && p->g->kind == K_LOGGED)
		return bad_comparator(p, id, op_start, op_end, mask);
	if ((rc = check_value(p, id, v)))
		return rc;
	if (!op_ok)
		return bad_comparator(p, id, op_start, op_end, mask);
	if (v->kind == VAL_LIST && op != OP_IN && op != OP_NOT_IN)
		return bad("Invalid comparator '%s' for a list of values: use IN or NOT IN", op_text[op]);
	if (v->kind != VAL_LIST && (op == OP_IN || op == OP_NOT_IN))
		return bad("Expected a list of quoted string values for '%s' (e.g. ('a', 'b')). Got value %.*s",
			   op_text[op], echo(v->end - v->start), p->s + v->start);
	if (op == OP_LIKE || op == OP_ILIKE) {
		size_t n = 0;

		while (n < v->text.len && v->text.ptr[v->text.len - 1 - n] == '\\')
			n++;
		if (n % 2)
			return bad("Invalid %s pattern '%.*s': it ends with the escape character '\\'",
				   op_text[op], echo(v->text.len), v->text.ptr);
	}
	return 0;
}

/* ---- SQL emission ---- */

static int bind_new(struct search_sql *q, struct search_bind **out)
{
	struct search_bind *nb;

	if (q->nbinds >= SEARCH_MAX_BINDS)
		return bad("Invalid search: more than %d values in the filter and order_by", SEARCH_MAX_BINDS);
	/* capacity is 4, 8, 16...: grow when nbinds reaches it (nbinds is the only count kept) */
	if (q->nbinds == 0 || (q->nbinds >= 4 && !(q->nbinds & (q->nbinds - 1)))) {
		size_t cap = q->nbinds ? q->nbinds * 2 : 4;

		nb = crealloc(q->binds, cap * sizeof(*nb));
		if (!nb)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		q->binds = nb;
	}
	*out = &q->binds[q->nbinds++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

static int bind_text(struct search_sql *q, const char *s, size_t n)
{
	struct search_bind *b = NULL;
	int rc;

	if ((rc = bind_new(q, &b)))
		return rc;
	b->type = SEARCH_BIND_TEXT;
	b->text = cmalloc(n + 1);
	if (!b->text)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	memcpy(b->text, s, n);
	b->text[n] = '\0';
	return 0;
}

static int bind_number(struct search_sql *q, const struct value *v, bool as_double)
{
	struct search_bind *b = NULL;
	int rc;

	if ((rc = bind_new(q, &b)))
		return rc;
	if (v->is_int && !as_double) {
		b->type = SEARCH_BIND_INT64;
		b->i = v->i;
	} else {
		b->type = SEARCH_BIND_DOUBLE;
		b->d = v->d;
	}
	return 0;
}

/* Append one literal character of a LIKE pattern to a GLOB pattern. */
static void glob_literal(struct buf *b, char c)
{
	if (c == '*' || c == '?' || c == '[')
		buf_printf(b, "[%c]", c);
	else
		buf_putc(b, c);
}

/* A LIKE pattern ('%', '_', backslash escapes) as the equivalent GLOB pattern. */
static void like_to_glob(const char *pat, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++) {
		if (pat[i] == '\\' && i + 1 < n)
			glob_literal(b, pat[++i]);
		else if (pat[i] == '%')
			buf_putc(b, '*');
		else if (pat[i] == '_')
			buf_putc(b, '?');
		else
			glob_literal(b, pat[i]);
	}
}

/* MLflow keeps only run ids that Python's str.islower() accepts (run ids are
 * lower-case hex; this keeps MySQL's case-insensitive IN honest). */
static bool py_islower(const char *s)
{
	bool cased = false;

	for (; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			return false;
		if (*s >= 'a' && *s <= 'z')
			cased = true;
	}
	return cased;
}

/* A logged model's status as its short name, the way filters compare it:
 * the stored proto names and MLflow's SQL store's numbers are taken too. */
static const char *status_name(const char *s)
{
	static const char *const names[][2] = {
		{ "LOGGED_MODEL_STATUS_UNSPECIFIED", "UNSPECIFIED" }, { "LOGGED_MODEL_PENDING", "PENDING" },
		{ "LOGGED_MODEL_READY", "READY" }, { "LOGGED_MODEL_UPLOAD_FAILED", "FAILED" },
		{ "0", "UNSPECIFIED" }, { "1", "PENDING" }, { "2", "READY" }, { "3", "FAILED" },
	};

	for (size_t i = 0; i < N(names); i++)
		if (!strcmp(s, names[i][0]))
			return names[i][1];
	return s;
}

/* Append "<col> <op> ?" (or its dialect's spelling) and bind the value.
 *
 * LIKE must be case-sensitive and ILIKE case-insensitive. PostgreSQL has both
 * operators, with '\' as LIKE's default escape. SQLite's LIKE ignores ASCII
 * case and has no ILIKE, so LIKE becomes GLOB over a converted pattern (GLOB
 * is case-sensitive and, unlike PRAGMA case_sensitive_like, needs no
 * connection state) and ILIKE becomes lower() LIKE lower() with '\' as
 * escape, which is what SQLAlchemy emits for ilike() there. */
static int emit_cmp(struct parser *p, struct buf *sql, const char *col, enum op op, const struct value *v,
		    bool as_double, unsigned flags)
{
	struct search_sql *q = p->out;
	bool pg = q->dialect == SEARCH_DIALECT_POSTGRES;
	struct buf glob = BUF_INIT;
	int rc;

	switch (op) {
	case OP_LIKE:
		if (pg) {
			buf_printf(sql, "%s LIKE ?", col);
			return bind_text(q, v->text.ptr, v->text.len);
		}
		buf_printf(sql, "%s GLOB ?", col);
		like_to_glob(v->text.ptr, v->text.len, &glob);
		rc = buf_error(&glob) ? buf_error(&glob) : bind_text(q, glob.ptr, glob.len);
		buf_release(&glob);
		return rc;
	case OP_ILIKE:
		buf_printf(sql, pg ? "%s ILIKE ?" : "lower(%s) LIKE lower(?) ESCAPE '\\'", col);
		return bind_text(q, v->text.ptr, v->text.len);
	case OP_IN:
	case OP_NOT_IN: {
		const char *it = v->items.ptr;
		size_t kept = 0, mark = sql->len;

		buf_printf(sql, "%s %s (", col, op_text[op]);
		for (size_t i = 0; i < v->nitems; i++, it += strlen(it) + 1) {
			const char *item = flags & A_STATUS ? status_name(it) : it;

			if ((flags & A_LOWER) && !py_islower(it))
				continue;
			buf_puts(sql, kept++ ? ", ?" : "?");
			if ((rc = bind_text(q, item, strlen(item))))
				return rc;
		}
		buf_putc(sql, ')');
		if (!kept) { /* nothing left: IN () matches nothing, NOT IN () everything */
			buf_truncate(sql, mark);
			buf_puts(sql, op == OP_IN ? "1 = 0" : "1 = 1");
		}
		return 0;
	}
	case OP_BAD:
		CAIRN_BUG("unchecked comparator");
	default:
		buf_printf(sql, "%s %s ?", col, op_text[op]);
		if (v->kind == VAL_NUMBER)
			return bind_number(q, v, as_double);
		if (flags & A_STATUS) {
			const char *name = status_name(v->text.ptr);
			return bind_text(q, name, strlen(name));
		}
		return bind_text(q, v->text.ptr, v->text.len);
	}
}

#define RUN_INPUTS \
	"FROM inputs i %s WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' " \
	"AND i.destination_id = r.run_uuid AND "

/* A metric clause. Runs read latest_metrics; logged models pick the latest
 * row by subquery. A NaN is unequal to everything and neither above nor
 * below anything. */
static int emit_metric(struct parser *p, struct buf *sql, const struct ident *id, enum op op, const struct value *v)
{
	const struct grammar *g = p->g;
	struct buf col = BUF_INIT;
	int rc;

	if (g->kind == K_RUNS) {
		buf_printf(sql, "EXISTS (SELECT 1%s AND ", g->metric_from);
		if ((rc = bind_text(p->out, id->key.ptr, id->key.len)))
			return rc;
		buf_puts(sql, op == OP_NE ? "(m.is_nan = 1 OR " : "m.is_nan = 0 AND ");
		if ((rc = emit_cmp(p, sql, "m.value", op, v, true, 0)))
			return rc;
		buf_puts(sql, op == OP_NE ? "))" : ")");
		return 0;
	}
	buf_printf(sql, "((SELECT %s.is_nan%s) %s", g->metric_alias, g->metric_from,
		   op == OP_NE ? "= 1 OR " : "= 0 AND ");
	buf_printf(&col, "(SELECT %s.value%s)", g->metric_alias, g->metric_from);
	if (!(rc = buf_error(&col)) && !(rc = bind_text(p->out, id->key.ptr, id->key.len)) &&
	    !(rc = bind_text(p->out, id->key.ptr, id->key.len)))
		rc = emit_cmp(p, sql, col.ptr, op, v, true, 0);
	buf_putc(sql, ')');
	buf_release(&col);
	return rc;
}

#define RUN_INPUTS \
	"FROM inputs i %s WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' " \
	"AND i.destination_id = r.run_uuid AND "

/* The WHERE predicate of one checked clause. */
static int emit_clause(struct parser *p, const struct ident *id, enum op op, const struct value *v)
{
	struct buf *sql = &p->out->where;
	const struct kv *kv;
	struct buf col = BUF_INIT;
	int rc;

	switch (id->ent) {
	case ENT_ATTR:
		return emit_cmp(p, sql, id->attr->col, op, v, false, id->attr->flags);
	case ENT_METRIC:
		return emit_metric(p, sql, id, op, v);
	case ENT_DATASET:
		if (!strcmp(id->key.ptr, "context")) {
			buf_printf(sql, "EXISTS (SELECT 1 " RUN_INPUTS "it.name = 'mlflow.data.context' AND ",
				   "JOIN input_tags it ON it.input_uuid = i.input_uuid");
			rc = emit_cmp(p, sql, "it.value", op, v, false, 0);
		} else {
			buf_printf(sql, "EXISTS (SELECT 1 " RUN_INPUTS,
				   "JOIN datasets d ON d.dataset_uuid = i.source_id");
			buf_printf(&col, "d.%s", id->key.ptr);
			rc = buf_error(&col) ? buf_error(&col) : emit_cmp(p, sql, col.ptr, op, v, false, 0);
		}
		buf_putc(sql, ')');
		buf_release(&col);
		return rc;
	case ENT_PARAM:
	case ENT_TAG:
		break;
	}

	kv = id->ent == ENT_PARAM ? &p->g->params : &p->g->tags;
	buf_printf(sql, "EXISTS (SELECT 1 FROM %s %s WHERE %s AND %s.key = ? AND ", kv->table, kv->alias, kv->owner,
		   kv->alias);
	if ((rc = bind_text(p->out, id->key.ptr, id->key.len)))
		return rc;
	buf_printf(&col, "%s.value", kv->alias);
	rc = buf_error(&col) ? buf_error(&col) : emit_cmp(p, sql, col.ptr, op, v, false, 0);
	buf_putc(sql, ')');
	buf_release(&col);
	return rc;
}

/* Whether a clause on the prompt tag asks for prompts (MLflow's _is_querying_prompt). */
static bool asks_for_prompts(enum op op, const struct value *v)
{
	return (op == OP_EQ && !strcasecmp(v->text.ptr, "true")) || (op == OP_NE && !strcasecmp(v->text.ptr, "false"));
}

static int parse_clause(struct parser *p)
{
	struct ident id;
	struct value v;
	size_t op_start = 0, op_end = 0;
	enum op op;
	int rc;

	ident_init(&id);
	value_init(&v);
	if ((rc = parse_ident(p, &id)) || (rc = resolve_ident(p, &id, false)))
		goto out;
	if ((rc = parse_comparator(p, &id, &op, &op_start, &op_end)))
		goto out;
	if ((rc = parse_value(p, &id, op_end, &v)))
		goto out;
	if ((rc = check_clause(p, &id, op, op_start, op_end, &v)))
		goto out;
	if (p->g->prompts && id.ent == ENT_TAG && !strcmp(id.key.ptr, PROMPT_TAG)) {
		/* the first such clause decides; when prompts stay hidden, all are ignored */
		if (!p->prompt_seen)
			p->prompt_query = asks_for_prompts(op, &v);
		p->prompt_seen = true;
		if (!p->prompt_query) {
			buf_puts(&p->out->where, "1=1");
			goto out;
		}
	}
	rc = emit_clause(p, &id, op, &v);
out:
	ident_release(&id);
	value_release(&v);
	return rc;
}

/* filter := [AND...] clause { AND [AND...] clause } [AND...]: like MLflow, stray
 * ANDs are ignored, but two clauses must have an AND between them. */
static int compile_filter(const struct grammar *g, const char *filter, struct search_sql *out)
{
	struct parser p = { filter ? filter : "", 0, g, out, false, false };
	bool need_and = false;
	int n = 0, rc;

	if (filter && *filter) {
		skip_ws(&p);
		if (!filter[p.pos])
			return bad("Invalid filter '%.*s'. Could not be parsed.", echo(strlen(filter)), filter);
	}
	for (;;) {
		size_t w;

		skip_ws(&p);
		if (!p.s[p.pos])
			break;
		w = word_len(&p, p.pos);
		if (word_is(&p, p.pos, w, "AND")) {
			p.pos += w;
			need_and = false;
			continue;
		}
		if (need_and)
			return bad("Invalid clause(s) in filter string: '%.*s'. Clauses must be joined by AND "
				   "(OR and parentheses are not supported)",
				   echo(w ? w : 1), p.s + p.pos);
		if (++n > SEARCH_MAX_CLAUSES)
			return bad("Invalid filter: more than %d clauses", SEARCH_MAX_CLAUSES);
		if (n > 1)
			buf_puts(&out->where, " AND ");
		if ((rc = parse_clause(&p)))
			return rc;
		need_and = true;
	}
	if (g->prompts && !p.prompt_query)
		buf_printf(&out->where, "%s%s", n ? " AND " : "", g->prompts);
	else if (!n)
		buf_puts(&out->where, "1=1");
	return buf_error(&out->where);
}

/* Append the ORDER BY terms of one resolved key. */
static int emit_order(struct parser *p, const struct ident *id, bool asc)
{
	const struct grammar *g = p->g;
	struct buf *sql = &p->out->order;
	const char *dir = asc ? "ASC" : "DESC";
	int rc;

	if (sql->len)
		buf_puts(sql, ", ");
	if (id->ent == ENT_ATTR) {
		const char *col = id->attr->ocol ? id->attr->ocol : id->attr->col;

		/* nulls last both ways; SQLite's DESC already puts them last, and the bare
		 * column lets an index give the order */
		if ((id->attr->flags & A_NULLS) && (asc || p->out->dialect != SEARCH_DIALECT_SQLITE))
			buf_printf(sql, "%s IS NULL, %s %s", col, col, dir);
		else
			buf_printf(sql, "%s %s", col, dir);
		return 0;
	}
	if (id->ent == ENT_METRIC) {
		/* numbers, then NaN, then rows without the metric, in both directions */
		buf_printf(sql, "COALESCE((SELECT %s.is_nan%s), 2), (SELECT %s.value%s) %s", g->metric_alias,
			   g->metric_from, g->metric_alias, g->metric_from, dir);
	} else {
		const struct kv *kv = id->ent == ENT_PARAM ? &g->params : &g->tags;

		buf_printf(sql, "(SELECT %s.value FROM %s %s WHERE %s AND %s.key = ?) IS NULL, "
				"(SELECT %s.value FROM %s %s WHERE %s AND %s.key = ?) %s",
			   kv->alias, kv->table, kv->alias, kv->owner, kv->alias,
			   kv->alias, kv->table, kv->alias, kv->owner, kv->alias, dir);
	}
	if ((rc = bind_text(p->out, id->key.ptr, id->key.len)))
		return rc;
	return bind_text(p->out, id->key.ptr, id->key.len);
}

static void put_pylist(struct buf *b, const char *const *items, size_t n)
{
	buf_putc(b, '[');
	for (size_t i = 0; i < n && b->len < ECHO * 2; i++)
		buf_printf(b, "%s'%.*s'", i ? ", " : "", echo(strlen(items[i] ? items[i] : "")),
			   items[i] ? items[i] : "");
	buf_putc(b, ']');
}

/* Whether "<entity>:<key>" is among the NUL-separated entries of seen. */
static bool seen_has(const struct buf *seen, const char *entry)
{
	for (size_t at = 0; at < seen->len; at += strlen(seen->ptr + at) + 1)
		if (!strcmp(seen->ptr + at, entry))
			return true;
	return false;
}

/* Parse one order_by entry of runs, experiments, registered models or model
 * versions: ident [ASC | DESC]. */
static int parse_order(struct parser *p, struct ident *id, bool *asc)
{
	const struct grammar *g = p->g;
	const char *s = p->s;
	struct buf keys = BUF_INIT;
	size_t w;
	int rc;

	skip_ws(p);
	if ((rc = parse_ident(p, id))) {
		if (rc == CAIRN_EINVALID)
			rc = bad("Invalid order_by clause '%.*s'. Could not be parsed.", echo(strlen(s)), s);
		return rc;
	}
	skip_ws(p);
	if ((w = word_len(p, p->pos))) {
		if (word_is(p, p->pos, w, "DESC"))
			*asc = false;
		else if (!word_is(p, p->pos, w, "ASC"))
			return bad("Invalid ordering key in order_by clause '%.*s'.", echo(strlen(s)), s);
		p->pos += w;
		skip_ws(p);
	}
	if (s[p->pos])
		return bad("Invalid order_by clause '%.*s'. Could not be parsed.", echo(strlen(s)), s);
	if ((rc = resolve_ident(p, id, true)))
		return rc;
	if (id->ent == ENT_ATTR || (g->kind == K_RUNS && id->ent != ENT_DATASET))
		return 0;
	if (id->ent == ENT_DATASET)
		return bad("Invalid identifier type 'dataset'");
	if (g->kind != K_VERSIONS)
		return bad("Invalid order_by entity: tag");
	put_attr_keys(&keys, g, A_ORDER);
	rc = bad("Invalid order by key '%.*s' specified. Valid keys are %s", echo(id->key.len), id->key.ptr, keys.ptr);
	buf_release(&keys);
	return rc;
}

/* Parse one order_by entry of logged models: "<field_name> [ASC | DESC]", the
 * field_name (an attribute key or metrics.<key>) taken verbatim, as MLflow
 * receives it in a JSON object. */
static int parse_logged_order(struct parser *p, struct ident *id, bool *asc)
{
	const char *s = p->s, *dot;
	size_t start = 0, end = strlen(s), w;

	while (start < end && is_space((unsigned char)s[start]))
		start++;
	while (end > start && is_space((unsigned char)s[end - 1]))
		end--;
	for (w = end; w > start && !is_space((unsigned char)s[w - 1]); w--)
		;
	if (w > start && (word_is(p, w, end - w, "ASC") || word_is(p, w, end - w, "DESC"))) {
		*asc = word_is(p, w, end - w, "ASC");
		for (end = w; end > start && is_space((unsigned char)s[end - 1]); end--)
			;
	}
	if (start == end)
		return bad("`field_name` in the `order_by` clause must be specified.");
	if ((dot = memchr(s + start, '.', end - start))) {
		if ((size_t)(dot - s - start) != strlen("metrics") || strncmp(s + start, "metrics", strlen("metrics")))
			return bad("Invalid order by field name: %.*s. Only metrics are supported.", echo(end - start),
				   s + start);
		id->ent = ENT_METRIC;
		buf_put(&id->key, dot + 1, (size_t)(s + end - dot - 1));
		return buf_error(&id->key);
	}
	id->ent = ENT_ATTR;
	for (size_t i = 0; i < p->g->nattrs; i++) {
		const struct attr *a = &p->g->attrs[i];

		if ((a->flags & A_ORDER) && strlen(a->key) == end - start && !strncmp(s + start, a->key, end - start)) {
			id->attr = a;
			return 0;
		}
	}
	return bad("Invalid order by field name: %.*s", echo(end - start), s + start);
}

/* The duplicate-detection name of an ordered key: "<entity>:<column or key>". */
static void order_entry(struct buf *entry, enum ent ent, const char *what)
{
	buf_clear(entry);
	buf_printf(entry, "%d:%s", (int)ent, what);
}

static int compile_order(const struct grammar *g, const char *const *order_by, size_t n_order,
			 struct search_sql *out)
{
	struct buf seen = BUF_INIT;  /* order_entry() of each key so far, NUL-separated */
	struct buf entry = BUF_INIT;
	int rc = 0;

	if (n_order > SEARCH_MAX_ORDER)
		return bad("Invalid order_by: more than %d clauses", SEARCH_MAX_ORDER);
	if (!n_order && g->ndefaults)
		order_by = g->defaults, n_order = g->ndefaults;
	for (size_t i = 0; i < n_order && !rc; i++) {
		const char *s = order_by[i] ? order_by[i] : "";
		struct parser p = { s, 0, g, out, false, false };
		struct ident id;
		bool asc = true;

		ident_init(&id);
		if ((rc = g->kind == K_LOGGED ? parse_logged_order(&p, &id, &asc) : parse_order(&p, &id, &asc)))
			goto next;
		/* the same key twice (aliases included) is refused, as MLflow does but for logged models */
		order_entry(&entry, id.ent, id.ent == ENT_ATTR ? id.attr->col : id.key.ptr);
		if ((rc = buf_error(&entry)))
			goto next;
		if (g->kind != K_LOGGED && seen_has(&seen, entry.ptr)) {
			struct buf list = BUF_INIT;

			put_pylist(&list, order_by, n_order);
			rc = bad("`order_by` contains duplicate fields: %s", list.ptr);
			buf_release(&list);
			goto next;
		}
		buf_put(&seen, entry.ptr, entry.len + 1);
		rc = emit_order(&p, &id, asc);
		if (!rc && g->kind == K_RUNS && i == 0 && id.ent != ENT_ATTR) {
			if (!(out->order_key = cstrndup(id.key.ptr, id.key.len)))
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			out->order_kind = id.ent == ENT_METRIC ? SEARCH_ORDER_METRIC
					  : id.ent == ENT_PARAM ? SEARCH_ORDER_PARAM
								: SEARCH_ORDER_TAG;
			out->order_asc = asc;
			/* the next term starts after ", " */
			out->order_rest = n_order > 1 ? out->order.len + 2 : 0;
			out->order_rest_bind = out->nbinds;
		}
next:
		ident_release(&id);
	}
	for (size_t i = 0; i < g->nties && !rc; i++) {
		order_entry(&entry, ENT_ATTR, g->ties[i].col);
		if ((rc = buf_error(&entry)) || (rc = buf_error(&seen)))
			break;
		if (!seen_has(&seen, entry.ptr))
			buf_printf(&out->order, "%s%s", out->order.len ? ", " : "", g->ties[i].term);
	}
	if (!rc && !(rc = buf_error(&seen)))
		rc = buf_error(&out->order);
	buf_release(&seen);
	buf_release(&entry);
	return rc;
}

void search_sql_init(struct search_sql *q)
{
	memset(q, 0, sizeof(*q));
	buf_init(&q->where, 0);
	buf_init(&q->order, 0);
	q->dialect = SEARCH_DIALECT_SQLITE;
}

void search_sql_release(struct search_sql *q)
{
	enum search_dialect d = q->dialect;

	for (size_t i = 0; i < q->nbinds; i++)
		free(q->binds[i].text);
	free(q->binds);
	free(q->order_key);
	buf_release(&q->where);
	buf_release(&q->order);
	search_sql_init(q);
	q->dialect = d;
}

static int compile(const struct grammar *g, const char *filter, const char *const *order_by, size_t n_order,
		   struct search_sql *out)
{
	int rc;

	search_sql_release(out);
	if ((rc = compile_filter(g, filter, out)))
		goto out;
	out->nwhere_binds = out->nbinds;
	rc = compile_order(g, order_by, n_order, out);
out:
	if (rc)
		search_sql_release(out);
	return rc;
}

int search_compile_runs(const char *filter, const char *const *order_by, size_t n_order, struct search_sql *out)
{
	return compile(&run_grammar, filter, order_by, n_order, out);
}

int search_compile_experiments(const char *filter, const char *const *order_by, size_t n_order,
			       struct search_sql *out)
{
	return compile(&exp_grammar, filter, order_by, n_order, out);
}

int search_compile_registered_models(const char *filter, const char *const *order_by, size_t n_order,
				     struct search_sql *out)
{
	return compile(&model_grammar, filter, order_by, n_order, out);
}

int search_compile_model_versions(const char *filter, const char *const *order_by, size_t n_order,
				  struct search_sql *out)
{
	return compile(&version_grammar, filter, order_by, n_order, out);
}

int search_compile_logged_models(const char *filter, const char *const *order_by, size_t n_order,
				 struct search_sql *out)
{
	return compile(&logged_grammar, filter, order_by, n_order, out);
}

int search_compile_logged_models_scoped(const char *filter, const char *const *order_by, size_t n_order,
					struct search_sql *out)
{
	return compile(&logged_scoped_grammar, filter, order_by, n_order, out);
}
