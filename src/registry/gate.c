/* gate.c - promotion gates: a hand-written scanner and recursive-descent
 * parser from requirement text to a small AST, its canonical rendering, and
 * three-valued evaluation with a per-comparison report (grammar and semantics
 * in gate.h).
 *
 * The parser reads one grammar for numbers and booleans alike and types each
 * node: and/or/not/comparisons are boolean, the rest numeric. A '(' may open
 * either kind, so typing, not lookahead, tells `(metrics.a + 1) > 2` from
 * `(metrics.a > 1) and ...`; a node of the wrong kind is reported where the
 * operator that needed the other kind stands. Nodes live in one fixed array
 * inside the gate (at most GATE_MAX_NODES), keys in one buffer of
 * NUL-terminated strings.
 */
#include "registry/gate.h"
#include "core/fault.h"
#include "core/error.h"
#include "core/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum nkind { N_OR, N_AND, N_NOT, N_CMP, N_ADD, N_SUB, N_MUL, N_DIV, N_NEG, N_NUM, N_REF };

enum op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

static const char *const op_text[] = { "<", "<=", ">", ">=", "==", "!=" };

struct node {
	enum nkind kind;
	enum op op;      /* N_CMP: the comparison */
	int a, b;        /* operands (indexes into gate.nodes); -1 when unused */
	double num;      /* N_NUM: the value, finite and >= 0 */
	bool incumbent;  /* N_REF: reads the incumbent (else the candidate) */
	size_t key;      /* N_REF: offset of the key in gate.keys */
};

struct gate {
	struct node nodes[GATE_MAX_NODES]; /* the AST, children before parents */
	int n;                             /* nodes used */
	int root;                          /* the top node */
	char *incumbent;                   /* the incumbent scope name, or NULL */
	struct buf keys;                   /* metric keys, each NUL-terminated */
};

/* Scanner */

enum tok {
	T_END, T_NUM, T_REF, T_WORD, T_LP, T_RP, T_PLUS, T_MINUS, T_STAR, T_SLASH,
	T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE, T_AND, T_OR, T_NOT,
};

struct parser {
	const char *s;       /* the requirement text */
	size_t pos;          /* scan position: just past the current token */
	const char *inc;     /* the incumbent scope name, or NULL */
	size_t inc_len;      /* its length */
	struct gate *g;      /* where nodes go */
	int depth;           /* current nesting of '(' / not / unary '-' */
	enum tok t;          /* the current token */
	size_t start, end;   /* its span in s */
	double num;          /* T_NUM: the value */
	bool ref_inc;        /* T_REF: an incumbent metric */
	struct buf key;      /* T_REF: the key, backticks removed */
	char found[128];     /* scratch for describing a token in a message */
};

#define ECHO 40 /* at most this many bytes of input are quoted in a message */

static int fail_at(size_t off, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_at(size_t off, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cairn_error_set(CAIRN_EINVALID, "bad requirement at offset %zu: %s", off, msg);
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static bool is_keych(unsigned char c)
{
	return is_word(c) || c == '.' || c == '-' || c == '/';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Length of the unquoted key at s (0 when none): a run of key characters
 * that starts with a word character and does not end in '.', '-' or '/'. */
static size_t key_plain_len(const char *s)
{
	size_t n = 0;

	if (!is_word((unsigned char)s[0]))
		return 0;
	while (is_keych((unsigned char)s[n]))
		n++;
	while (!is_word((unsigned char)s[n - 1]))
		n--;
	return n;
}

/* Quote n bytes of s for a message into dst: printable ASCII as is, other
 * bytes as \xNN, at most ECHO bytes of input then "...". */
static const char *quote(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	dst[o++] = '\'';
	for (size_t i = 0; i < n && i < ECHO && o + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f)
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
	}
	if (n > ECHO && o + 5 < cap) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o++] = '\'';
	dst[o] = '\0';
	return dst;
}

/* The current token, for "found ..." in a message. */
static const char *found(struct parser *p)
{
	if (p->t == T_END)
		return "end of requirement";
	return quote(p->found, sizeof(p->found), p->s + p->start, p->end - p->start);
}

/* What starts at `at`, for "found ..." in a scanner message. */
static const char *found_at(struct parser *p, size_t at)
{
	if (!p->s[at])
		return "end of requirement";
	return quote(p->found, sizeof(p->found), p->s + at, 1);
}

static const char *scope_hint(const struct parser *p, char *dst, size_t cap)
{
	if (p->inc)
		snprintf(dst, cap, "use metrics.KEY or %s.metrics.KEY", p->inc);
	else
		snprintf(dst, cap, "use metrics.KEY");
	return dst;
}

/* Scan the metric key at p->s + k into p->key; set p->pos past it. */
static int scan_key(struct parser *p, size_t k, const char *scope_text)
{
	const char *s = p->s;
	size_t n;

	buf_clear(&p->key);
	if (s[k] == '`') {
		size_t i = k + 1;

		for (;;) {
			if (!s[i])
				return fail_at(k, "unterminated quoted key: close it with '`'");
			if (s[i] == '`') {
				if (s[i + 1] != '`')
					break;
				i++;
			}
			buf_putc(&p->key, s[i]);
			i++;
		}
		if (!p->key.len)
			return fail_at(k, "empty metric key");
		p->pos = i + 1;
		return buf_error(&p->key);
	}
	n = key_plain_len(s + k);
	if (!n)
		return fail_at(k, "expected a metric key after '%s', found %s", scope_text, found_at(p, k));
	buf_put(&p->key, s + k, n);
	p->pos = k + n;
	return buf_error(&p->key);
}

static int scan_number(struct parser *p, size_t i)
{
	const char *s = p->s;
	size_t start = i;
	char *end = NULL;

	while (is_digit((unsigned char)s[i]))
		i++;
	if (s[i] == '.') {
		i++;
		while (is_digit((unsigned char)s[i]))
			i++;
	}
	if ((s[i] == 'e' || s[i] == 'E') &&
	    (is_digit((unsigned char)s[i + 1]) ||
	     ((s[i + 1] == '+' || s[i + 1] == '-') && is_digit((unsigned char)s[i + 2])))) {
		i += 2;
		while (is_digit((unsigned char)s[i]))
			i++;
	}
	if (is_word((unsigned char)s[i]) || s[i] == '.' || s[i] == '`') {
		size_t j = i;

		while (is_word((unsigned char)s[j]) || s[j] == '.')
			j++;
		if (j == i)
			j++;
		return fail_at(start, "malformed number %s",
			       quote(p->found, sizeof(p->found), s + start, j - start));
	}
	p->num = strtod(s + start, &end);
	if (end != s + i)
		return fail_at(start, "malformed number %s", quote(p->found, sizeof(p->found), s + start, i - start));
	if (!isfinite(p->num))
		return fail_at(start, "number %s is out of range",
			       quote(p->found, sizeof(p->found), s + start, i - start));
	p->t = T_NUM;
	p->pos = i;
	return 0;
}

/* A word at p->s + i: a keyword, a metric reference, or a bare word (which
 * the parser reports in context). */
static int scan_word(struct parser *p, size_t i)
{
	const char *s = p->s;
	size_t n = 0, m;
	char hint[160];

	while (is_word((unsigned char)s[i + n]))
		n++;
	if (s[i + n] == '.') {
		if (n == 7 && !strncmp(s + i, "metrics", 7)) {
			p->t = T_REF;
			p->ref_inc = false;
			return scan_key(p, i + n + 1, "metrics.");
		}
		if (!strncmp(s + i + n, ".metrics.", 9) && n == 9 && !strncmp(s + i, "candidate", 9)) {
			p->t = T_REF;
			p->ref_inc = false;
			return scan_key(p, i + n + 9, "candidate.metrics.");
		}
		if ((n == 9 && !strncmp(s + i, "candidate", 9)) ||
		    (p->inc && n == p->inc_len && !strncmp(s + i, p->inc, n)))
			return fail_at(i + n + 1, "expected 'metrics.' after %s",
				       quote(p->found, sizeof(p->found), s + i, n + 1));
		return fail_at(i, "unknown scope %s: %s", quote(p->found, sizeof(p->found), s + i, n),
			       scope_hint(p, hint, sizeof(hint)));
	}
	/* a scope with '-' in it, as aliases may have */
	m = n;
	while (is_word((unsigned char)s[i + m]) || s[i + m] == '-')
		m++;
	if (m > n && !strncmp(s + i + m, ".metrics", 8))
		return fail_at(i, "unknown scope %s: %s", quote(p->found, sizeof(p->found), s + i, m),
			       scope_hint(p, hint, sizeof(hint)));
	p->pos = i + n;
	if (n == 3 && !strncasecmp(s + i, "and", 3))
		p->t = T_AND;
	else if (n == 2 && !strncasecmp(s + i, "or", 2))
		p->t = T_OR;
	else if (n == 3 && !strncasecmp(s + i, "not", 3))
		p->t = T_NOT;
	else if ((n == 3 && (!strncasecmp(s + i, "inf", 3) || !strncasecmp(s + i, "nan", 3))) ||
		 (n == 8 && !strncasecmp(s + i, "infinity", 8)))
		return fail_at(i, "%s is not a number: use finite numbers",
			       quote(p->found, sizeof(p->found), s + i, n));
	else
		p->t = T_WORD;
	return 0;
}

/* Move to the next token. */
static int next(struct parser *p)
{
	const char *s = p->s;
	size_t i = p->pos;
	unsigned char c;

	while (is_space((unsigned char)s[i]))
		i++;
	p->start = i;
	p->pos = i + 1;
	c = (unsigned char)s[i];
	switch (c) {
	case '\0': p->t = T_END; p->pos = i; break;
	case '(': p->t = T_LP; break;
	case ')': p->t = T_RP; break;
	case '+': p->t = T_PLUS; break;
	case '-': p->t = T_MINUS; break;
	case '*': p->t = T_STAR; break;
	case '/': p->t = T_SLASH; break;
	case '<':
		p->t = s[i + 1] == '=' ? T_LE : T_LT;
		p->pos += s[i + 1] == '=';
		break;
	case '>':
		p->t = s[i + 1] == '=' ? T_GE : T_GT;
		p->pos += s[i + 1] == '=';
		break;
	case '=':
		p->t = T_EQ;
		p->pos += s[i + 1] == '=';
		break;
	case '!':
		p->t = s[i + 1] == '=' ? T_NE : T_NOT;
		p->pos += s[i + 1] == '=';
		break;
	case '&':
	case '|':
		if (s[i + 1] != (char)c)
			return fail_at(i, "unexpected character %s: use '%c%c' or '%s'", found_at(p, i), c, c,
				       c == '&' ? "and" : "or");
		p->t = c == '&' ? T_AND : T_OR;
		p->pos++;
		break;
	case '`':
		return fail_at(i, "a quoted key must follow 'metrics.', as in metrics.`my metric`");
	default:
		if (p->inc && !strncmp(s + i, p->inc, p->inc_len) && !strncmp(s + i + p->inc_len, ".metrics.", 9)) {
			int rc;

			p->t = T_REF;
			p->ref_inc = true;
			rc = scan_key(p, i + p->inc_len + 9, "metrics.");
			if (rc)
				return rc;
		} else if (is_digit(c) || (c == '.' && is_digit((unsigned char)s[i + 1]))) {
			int rc = scan_number(p, i);
			if (rc)
				return rc;
		} else if (is_alpha(c)) {
			int rc = scan_word(p, i);
			if (rc)
				return rc;
		} else {
			return fail_at(i, "unexpected character %s", found_at(p, i));
		}
	}
	p->end = p->pos;
	return 0;
}

/* Parser */

static bool kind_is_bool(enum nkind k)
{
	return k == N_OR || k == N_AND || k == N_NOT || k == N_CMP;
}

static bool is_bool(const struct parser *p, int n)
{
	return kind_is_bool(p->g->nodes[n].kind);
}

static int node_new(struct parser *p, enum nkind kind, int a, int b, int *out)
{
	struct gate *g = p->g;
	struct node *nd;

	if (g->n >= GATE_MAX_NODES)
		return fail_at(p->start, "too complex: more than %d numbers, metrics and operators",
			       GATE_MAX_NODES);
	nd = &g->nodes[g->n];
	memset(nd, 0, sizeof(*nd));
	nd->kind = kind;
	nd->a = a;
	nd->b = b;
	*out = g->n++;
	return 0;
}

/* A boolean is required: a number here lacks its comparison operator, which
 * would stand where the current token is. */
static int need_bool(struct parser *p, int n)
{
	if (is_bool(p, n))
		return 0;
	return fail_at(p->start, "expected a comparison operator, found %s", found(p));
}

static int need_num(struct parser *p, int n, size_t op_at, const char *op)
{
	if (!is_bool(p, n))
		return 0;
	return fail_at(op_at, "'%s' needs a number, not a comparison", op);
}

static int deeper(struct parser *p)
{
	if (++p->depth > GATE_MAX_DEPTH)
		return fail_at(p->start, "nested deeper than %d levels", GATE_MAX_DEPTH);
	return 0;
}

static int parse_or(struct parser *p, int *out);

static int parse_factor(struct parser *p, int *out)
{
	size_t at = p->start;
	int rc, x;

	switch (p->t) {
	case T_NUM:
		if ((rc = node_new(p, N_NUM, -1, -1, out)))
			return rc;
		p->g->nodes[*out].num = p->num;
		return next(p);
	case T_REF:
		if ((rc = node_new(p, N_REF, -1, -1, out)))
			return rc;
		p->g->nodes[*out].incumbent = p->ref_inc;
		p->g->nodes[*out].key = p->g->keys.len;
		if (buf_put(&p->g->keys, p->key.ptr, p->key.len + 1))
			return buf_error(&p->g->keys);
		return next(p);
	case T_MINUS:
		if ((rc = deeper(p)) || (rc = next(p)) || (rc = parse_factor(p, &x)) ||
		    (rc = need_num(p, x, at, "-")) || (rc = node_new(p, N_NEG, x, -1, out)))
			return rc;
		p->depth--;
		return 0;
	case T_LP:
		if ((rc = deeper(p)) || (rc = next(p)) || (rc = parse_or(p, out)))
			return rc;
		if (p->t != T_RP)
			return fail_at(p->start, "expected ')' to close the '(' at offset %zu, found %s", at,
				       found(p));
		p->depth--;
		return next(p);
	default:
		return fail_at(p->start, "expected a number or metrics.KEY, found %s", found(p));
	}
}

static int parse_term(struct parser *p, int *out)
{
	int rc, r;

	if ((rc = parse_factor(p, out)))
		return rc;
	while (p->t == T_STAR || p->t == T_SLASH) {
		enum nkind k = p->t == T_STAR ? N_MUL : N_DIV;
		const char *op = p->t == T_STAR ? "*" : "/";
		size_t at = p->start;

		if ((rc = need_num(p, *out, at, op)) || (rc = next(p)) || (rc = parse_factor(p, &r)) ||
		    (rc = need_num(p, r, at, op)) || (rc = node_new(p, k, *out, r, out)))
			return rc;
	}
	return 0;
}

static int parse_sum(struct parser *p, int *out)
{
	int rc, r;

	if ((rc = parse_term(p, out)))
		return rc;
	while (p->t == T_PLUS || p->t == T_MINUS) {
		enum nkind k = p->t == T_PLUS ? N_ADD : N_SUB;
		const char *op = p->t == T_PLUS ? "+" : "-";
		size_t at = p->start;

		if ((rc = need_num(p, *out, at, op)) || (rc = next(p)) || (rc = parse_term(p, &r)) ||
		    (rc = need_num(p, r, at, op)) || (rc = node_new(p, k, *out, r, out)))
			return rc;
	}
	return 0;
}

static bool tok_cmp(enum tok t, enum op *op)
{
	switch (t) {
	case T_LT: *op = OP_LT; return true;
	case T_LE: *op = OP_LE; return true;
	case T_GT: *op = OP_GT; return true;
	case T_GE: *op = OP_GE; return true;
	case T_EQ: *op = OP_EQ; return true;
	case T_NE: *op = OP_NE; return true;
	default: return false;
	}
}

static int chained(size_t at)
{
	return fail_at(at, "chained comparison: join comparisons with 'and' or 'or'");
}

static int parse_cmp(struct parser *p, int *out)
{
	enum op op, op2;
	size_t at;
	int rc, l, r;

	if ((rc = parse_sum(p, &l)))
		return rc;
	if (!tok_cmp(p->t, &op)) {
		*out = l;
		return 0;
	}
	at = p->start;
	if (is_bool(p, l))
		return chained(at);
	if ((rc = next(p)) || (rc = parse_sum(p, &r)))
		return rc;
	if (is_bool(p, r))
		return chained(at);
	if (tok_cmp(p->t, &op2))
		return chained(p->start);
	if ((rc = node_new(p, N_CMP, l, r, out)))
		return rc;
	p->g->nodes[*out].op = op;
	return 0;
}

static int parse_not(struct parser *p, int *out)
{
	int rc, x;

	if (p->t != T_NOT)
		return parse_cmp(p, out);
	if ((rc = deeper(p)) || (rc = next(p)) || (rc = parse_not(p, &x)) || (rc = need_bool(p, x)) ||
	    (rc = node_new(p, N_NOT, x, -1, out)))
		return rc;
	p->depth--;
	return 0;
}

static int parse_and(struct parser *p, int *out)
{
	int rc, r;

	if ((rc = parse_not(p, out)))
		return rc;
	while (p->t == T_AND) {
		if ((rc = need_bool(p, *out)) || (rc = next(p)) || (rc = parse_not(p, &r)) ||
		    (rc = need_bool(p, r)) || (rc = node_new(p, N_AND, *out, r, out)))
			return rc;
	}
	return 0;
}

static int parse_or(struct parser *p, int *out)
{
	int rc, r;

	if ((rc = parse_and(p, out)))
		return rc;
	while (p->t == T_OR) {
		if ((rc = need_bool(p, *out)) || (rc = next(p)) || (rc = parse_and(p, &r)) ||
		    (rc = need_bool(p, r)) || (rc = node_new(p, N_OR, *out, r, out)))
			return rc;
	}
	return 0;
}

static int check_incumbent(const char *inc)
{
	if (!inc)
		return 0;
	if (!*inc)
		return cairn_error_set(CAIRN_EINVALID, "invalid incumbent scope '': it is empty");
	for (const char *c = inc; *c; c++)
		if (!is_word((unsigned char)*c) && *c != '-')
			return cairn_error_set(CAIRN_EINVALID,
					       "invalid incumbent scope '%.*s': use letters, digits, '_' and '-'",
					       ECHO, inc);
	if (!strcmp(inc, "candidate") || !strcmp(inc, "metrics"))
		return cairn_error_set(CAIRN_EINVALID, "invalid incumbent scope '%s': the name is reserved", inc);
	return 0;
}

int gate_parse(const char *text, const char *incumbent, struct gate **out)
{
	struct parser p;
	struct gate *g = NULL;
	size_t len;
	int err = CAIRN_ERR;

	*out = NULL;
	if ((err = check_incumbent(incumbent)))
		return err;
	len = text ? strnlen(text, GATE_MAX_TEXT + 1) : 0;
	if (len > GATE_MAX_TEXT)
		return cairn_error_set(CAIRN_EINVALID, "bad requirement: longer than %d bytes", GATE_MAX_TEXT);
	if (!text || !text[strspn(text, " \t\n\r\f\v")])
		return cairn_error_set(CAIRN_EINVALID, "bad requirement: it is empty");
	if (!(g = ccalloc(1, sizeof(*g))))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	buf_init(&g->keys, 0);
	if (incumbent && !(g->incumbent = cstrdup(incumbent))) {
		err = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto fail;
	}

	memset(&p, 0, sizeof(p));
	p.s = text;
	p.inc = incumbent;
	p.inc_len = incumbent ? strlen(incumbent) : 0;
	p.g = g;
	buf_init(&p.key, 0);
	if ((err = next(&p)) || (err = parse_or(&p, &g->root)) || (err = need_bool(&p, g->root)))
		goto fail_key;
	if (p.t != T_END) {
		err = fail_at(p.start, "expected 'and', 'or' or end of requirement, found %s", found(&p));
		goto fail_key;
	}
	buf_release(&p.key);
	*out = g;
	return 0;

fail_key:
	buf_release(&p.key);
fail:
	gate_free(g);
	return err;
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	buf_release(&g->keys);
	free(g->incumbent);
	free(g);
}

bool gate_reads_incumbent(const struct gate *g)
{
	for (int i = 0; i < g->n; i++)
		if (g->nodes[i].kind == N_REF && g->nodes[i].incumbent)
			return true;
	return false;
}

/* Rendering */

/* Binding strength, loosest first; an operand weaker than its slot needs
 * parentheses. */
static int prec(enum nkind k)
{
	switch (k) {
	case N_OR: return 1;
	case N_AND: return 2;
	case N_NOT: return 3;
	case N_CMP: return 4;
	case N_ADD: case N_SUB: return 5;
	case N_MUL: case N_DIV: return 6;
	case N_NEG: return 7;
	default: return 8;
	}
}

/* The shortest text that reads back as d, spelled as Python's repr spells
 * it: fixed notation for exponents -4 to 15, else 1e-05 / 1.5e+20. */
static void put_number(struct buf *b, double d)
{
	char tmp[48];
	int digits, exp;

	for (digits = 1; digits < 17; digits++) {
		snprintf(tmp, sizeof(tmp), "%.*e", digits - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", digits - 1, d);
	exp = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
	if (exp >= -4 && exp < 16)
		snprintf(tmp, sizeof(tmp), "%.*f", digits - 1 - exp > 0 ? digits - 1 - exp : 0, d);
	buf_puts(b, tmp);
}

static void put_ref(struct buf *b, const struct gate *g, const struct node *nd)
{
	const char *key = g->keys.ptr + nd->key;
	size_t n = strlen(key);

	if (nd->incumbent) {
		buf_puts(b, g->incumbent);
		buf_putc(b, '.');
	}
	buf_puts(b, "metrics.");
	if (key_plain_len(key) == n) {
		buf_put(b, key, n);
		return;
	}
	buf_putc(b, '`');
	for (size_t i = 0; i < n; i++) {
		if (key[i] == '`')
			buf_putc(b, '`');
		buf_putc(b, key[i]);
	}
	buf_putc(b, '`');
}

static void render(struct buf *b, const struct gate *g, int i, int min)
{
	const struct node *nd = &g->nodes[i];
	int pr = prec(nd->kind);
	static const char *const bin[] = {
		[N_OR] = " or ", [N_AND] = " and ", [N_ADD] = " + ", [N_SUB] = " - ",
		[N_MUL] = " * ", [N_DIV] = " / ",
	};

	if (pr < min)
		buf_putc(b, '(');
	switch (nd->kind) {
	case N_OR: case N_AND: case N_ADD: case N_SUB: case N_MUL: case N_DIV:
		/* left-associative: the right operand binds tighter to keep the tree */
		render(b, g, nd->a, pr);
		buf_puts(b, bin[nd->kind]);
		render(b, g, nd->b, pr + 1);
		break;
	case N_CMP:
		render(b, g, nd->a, pr + 1);
		buf_printf(b, " %s ", op_text[nd->op]);
		render(b, g, nd->b, pr + 1);
		break;
	case N_NOT:
		buf_puts(b, "not ");
		render(b, g, nd->a, pr);
		break;
	case N_NEG:
		buf_putc(b, '-');
		render(b, g, nd->a, pr);
		break;
	case N_NUM:
		put_number(b, nd->num);
		break;
	case N_REF:
		put_ref(b, g, nd);
		break;
	}
	if (pr < min)
		buf_putc(b, ')');
}

int gate_text(const struct gate *g, struct buf *out)
{
	render(out, g, g->root, 0);
	return buf_error(out);
}

/* Evaluation */

enum tv { TV_FALSE, TV_TRUE, TV_UNKNOWN };

#define F_MISSING 1u /* a metric is not logged */
#define F_NOINC 2u   /* reads the incumbent, and there is none */
#define F_DIV0 4u    /* divides by zero */
#define F_NAN 8u     /* a NaN metric, or arithmetic giving NaN */
#define F_FAILS (F_MISSING | F_DIV0 | F_NAN)

struct side {
	double v;        /* the value, when flags is 0 */
	unsigned flags;  /* F_*: why there is no value */
};

struct eval {
	const struct gate *g;
	gate_lookup_fn lookup;
	void *ctx;
	json_t *report;     /* the comparisons so far, or NULL when not wanted */
	struct buf notes;   /* notes of the comparison being evaluated */
	struct buf scratch; /* a rendering */
};

/* Add a note unless it is there already. */
static void note_add(struct buf *notes, const char *note)
{
	size_t n = strlen(note);

	for (const char *at = notes->ptr; (at = strstr(at, note)); at++)
		if ((at == notes->ptr || (at >= notes->ptr + 2 && !strncmp(at - 2, "; ", 2))) &&
		    (!at[n] || !strncmp(at + n, "; ", 2)))
			return;
	if (notes->len)
		buf_puts(notes, "; ");
	buf_put(notes, note, n);
}

static int eval_ref(struct eval *e, const struct node *nd, struct side *out)
{
	const char *key = e->g->keys.ptr + nd->key;
	double v = 0;
	int rc = e->lookup(e->ctx, nd->incumbent, key, &v);

	if (rc < 0)
		return rc;
	buf_clear(&e->scratch);
	put_ref(&e->scratch, e->g, nd);
	switch (rc) {
	case GATE_FOUND:
		out->v = v;
		if (isnan(v)) {
			out->flags |= F_NAN;
			buf_puts(&e->scratch, " is NaN");
			note_add(&e->notes, e->scratch.ptr);
		}
		return 0;
	case GATE_MISSING:
		out->flags |= F_MISSING;
		buf_puts(&e->scratch, nd->incumbent ? " is not logged by the incumbent run"
						     : " is not logged by the candidate run");
		note_add(&e->notes, e->scratch.ptr);
		return 0;
	case GATE_NO_INCUMBENT:
		if (!nd->incumbent)
			break;
		out->flags |= F_NOINC;
		buf_clear(&e->scratch);
		buf_printf(&e->scratch, "no incumbent: %s is not set", e->g->incumbent);
		note_add(&e->notes, e->scratch.ptr);
		return 0;
	default:
		break;
	}
	return cairn_error_set(CAIRN_ERR, "gate lookup of '%.*s' returned %d", ECHO, key, rc);
}

static int eval_num(struct eval *e, int i, struct side *out)
{
	const struct node *nd = &e->g->nodes[i];
	struct side a = { 0, 0 }, b = { 0, 0 };
	int rc;

	out->v = 0;
	out->flags = 0;
	switch (nd->kind) {
	case N_NUM:
		out->v = nd->num;
		return 0;
	case N_REF:
		return eval_ref(e, nd, out);
	case N_NEG:
		if ((rc = eval_num(e, nd->a, out)))
			return rc;
		out->v = -out->v;
		return 0;
	case N_ADD: case N_SUB: case N_MUL: case N_DIV:
		break;
	default:
		CAIRN_BUG("boolean node in arithmetic");
	}
	if ((rc = eval_num(e, nd->a, &a)) || (rc = eval_num(e, nd->b, &b)))
		return rc;
	out->flags = a.flags | b.flags;
	if (out->flags)
		return 0;
	switch (nd->kind) {
	case N_ADD: out->v = a.v + b.v; break;
	case N_SUB: out->v = a.v - b.v; break;
	case N_MUL: out->v = a.v * b.v; break;
	default:
		if (b.v == 0) {
			out->flags |= F_DIV0;
			note_add(&e->notes, "division by zero");
			return 0;
		}
		out->v = a.v / b.v;
		break;
	}
	if (isnan(out->v)) {
		out->flags |= F_NAN;
		note_add(&e->notes, "the arithmetic gives NaN");
	}
	return 0;
}

static bool compare(enum op op, double l, double r)
{
	switch (op) {
	case OP_LT: return l < r;
	case OP_LE: return l <= r;
	case OP_GT: return l > r;
	case OP_GE: return l >= r;
	case OP_EQ: return l == r;
	default: return l != r;
	}
}

static json_t *side_json(const struct side *s)
{
	return s->flags ? json_null() : cjson_double(s->v);
}

static int eval_cmp(struct eval *e, int i, enum tv *out)
{
	const struct node *nd = &e->g->nodes[i];
	struct side l, r;
	unsigned flags;
	json_t *o;
	int rc;

	buf_clear(&e->notes);
	if ((rc = eval_num(e, nd->a, &l)) || (rc = eval_num(e, nd->b, &r)))
		return rc;
	flags = l.flags | r.flags;
	if (flags & F_FAILS)
		*out = TV_UNKNOWN;
	else if (flags & F_NOINC)
		*out = TV_TRUE;
	else
		*out = compare(nd->op, l.v, r.v) ? TV_TRUE : TV_FALSE;
	if (!e->report)
		return 0;

	buf_clear(&e->scratch);
	render(&e->scratch, e->g, i, 0);
	if ((rc = buf_error(&e->scratch)) || (rc = buf_error(&e->notes)))
		return cairn_error_set(rc, "out of memory");
	if (!(o = json_object()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	cjson_set(o, "expr", cjson_string(e->scratch.ptr));
	cjson_set(o, "left", side_json(&l));
	cjson_set(o, "op", json_string(op_text[nd->op]));
	cjson_set(o, "right", side_json(&r));
	cjson_set(o, "holds", json_boolean(*out == TV_TRUE));
	if (e->notes.len)
		cjson_set(o, "note", cjson_string(e->notes.ptr));
	if (json_array_append_new(e->report, o) || json_object_size(o) < 5)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	return 0;
}

/* Every operand is evaluated (no short-circuit), so the report lists every
 * comparison; the results combine as Kleene's three-valued logic. */
static int eval_bool(struct eval *e, int i, enum tv *out)
{
	const struct node *nd = &e->g->nodes[i];
	enum tv a, b;
	int rc;

	switch (nd->kind) {
	case N_CMP:
		return eval_cmp(e, i, out);
	case N_NOT:
		if ((rc = eval_bool(e, nd->a, &a)))
			return rc;
		*out = a == TV_UNKNOWN ? TV_UNKNOWN : a == TV_TRUE ? TV_FALSE : TV_TRUE;
		return 0;
	case N_AND:
	case N_OR:
		if ((rc = eval_bool(e, nd->a, &a)) || (rc = eval_bool(e, nd->b, &b)))
			return rc;
		if (nd->kind == N_AND)
			*out = (a == TV_FALSE || b == TV_FALSE) ? TV_FALSE
			       : (a == TV_UNKNOWN || b == TV_UNKNOWN) ? TV_UNKNOWN : TV_TRUE;
		else
			*out = (a == TV_TRUE || b == TV_TRUE) ? TV_TRUE
			       : (a == TV_UNKNOWN || b == TV_UNKNOWN) ? TV_UNKNOWN : TV_FALSE;
		return 0;
	default:
		CAIRN_BUG("numeric node as a condition");
	}
}

int gate_eval(const struct gate *g, gate_lookup_fn lookup, void *ctx, bool *holds, json_t **report)
{
	struct eval e = { g, lookup, ctx, NULL, BUF_INIT, BUF_INIT };
	enum tv v = TV_UNKNOWN;
	int err;

	CAIRN_ASSERT(g && lookup && holds);
	*holds = false;
	if (report) {
		*report = NULL;
		if (!(e.report = json_array()))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	err = eval_bool(&e, g->root, &v);
	buf_release(&e.notes);
	buf_release(&e.scratch);
	if (err) {
		json_decref(e.report);
		return err;
	}
	*holds = v == TV_TRUE;
	if (report)
		*report = e.report;
	return 0;
}
