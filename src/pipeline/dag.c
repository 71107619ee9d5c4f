/* dag.c - the pipeline graph: which stage produces each dep, checks, topological order, cycles. */
#include "pipeline/pl_int.h"
#include "core/fault.h"
#include "core/buf.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct outref {
	const char *path;
	size_t stage;
	int line;
};

static int cmp_outref(const void *a, const void *b)
{
	return strcmp(((const struct outref *)a)->path, ((const struct outref *)b)->path);
}

/* Index of the first out whose path is >= key. */
static size_t lower_bound(const struct outref *v, size_t n, const char *key)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(v[mid].path, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

static int add_edge(struct pl_stage *s, size_t up)
{
	size_t *v;

	for (size_t i = 0; i < s->nup; i++)
		if (s->up[i] == up)
			return 0;
	v = crealloc(s->up, (s->nup + 1) * sizeof(*v));
	if (!v)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	s->up = v;
	s->up[s->nup++] = up;
	return 0;
}

/* The producers of dep: an out equal to it, containing it, or inside it. */
static int link_dep(struct pipeline *p, size_t si, const struct pl_dep *d, const struct outref *outs, size_t nouts,
		    bool *found)
{
	struct pl_stage *s = &p->v[si];
	struct buf pre = BUF_INIT;
	size_t i;
	int rc = 0;

	*found = false;
	/* equal, or an out folder holding the dep: the dep and its ancestors */
	buf_puts(&pre, d->path);
	for (;;) {
		i = lower_bound(outs, nouts, pre.ptr);
		if (i < nouts && !strcmp(outs[i].path, pre.ptr)) {
			*found = true;
			if (outs[i].stage == si) {
				rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: stage '%s' depends on its own out '%s' (a cycle)",
						     s->src, d->line, s->name, outs[i].path);
				goto out;
			}
			if ((rc = add_edge(s, outs[i].stage)))
				goto out;
		}
		char *slash = strrchr(pre.ptr, '/');
		if (!slash)
			break;
		buf_truncate(&pre, (size_t)(slash - pre.ptr));
	}
	/* outs inside a dep folder */
	buf_clear(&pre);
	buf_printf(&pre, "%s/", d->path);
	for (i = lower_bound(outs, nouts, pre.ptr); i < nouts && is_under(outs[i].path, d->path); i++) {
		*found = true;
		if (outs[i].stage == si) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: stage '%s' depends on '%s', which holds its own out '%s'",
					     s->src, d->line, s->name, d->path, outs[i].path);
			goto out;
		}
		if ((rc = add_edge(s, outs[i].stage)))
			goto out;
	}
out:
	buf_release(&pre);
	return rc;
}

/* The pointer files tracking dep (the same path, a folder holding it, or
 * data inside it). */
static int link_pointer(struct pipeline *p, size_t si, const struct pl_dep *d)
{
	struct pl_stage *s = &p->v[si];

	for (size_t i = 0; i < p->nptrs; i++)
		for (size_t k = 0; k < p->ptrs[i].nouts; k++) {
			const char *o = p->ptrs[i].outs[k];
			if (strcmp(o, d->path) && !is_under(d->path, o) && !is_under(o, d->path))
				continue;
			size_t *v = crealloc(s->pup, (s->npup + 1) * sizeof(*v));
			if (!v)
				return cairn_error_set(CAIRN_ENOMEM, "out of memory");
			s->pup = v;
			s->pup[s->npup++] = i;
			break;
		}
	return 0;
}

/* Name a cycle among the stages not yet ordered: follow edges until one repeats. */
static int report_cycle(struct pipeline *p, const bool *done)
{
	size_t *seen = ccalloc(p->n, sizeof(size_t)), start = 0, cur;
	struct buf b = BUF_INIT;
	int rc;

	if (!seen)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	while (start < p->n && done[start])
		start++;
	cur = start;
	/* seen[i] = step + 1 at which stage i was visited */
	for (size_t step = 1;; step++) {
		size_t next = p->n;
		if (seen[cur])
			break;
		seen[cur] = step;
		for (size_t k = 0; k < p->v[cur].nup; k++)
			if (!done[p->v[cur].up[k]]) {
				next = p->v[cur].up[k];
				break;
			}
		if (next == p->n)
			break; /* cannot happen: an unordered stage always has an unordered dependency */
		cur = next;
	}
	/* cur is on the cycle: print it in execution order (producer first) */
	{
		size_t *cyc = ccalloc(p->n + 1, sizeof(size_t)), n = 0, x = cur;
		if (!cyc) {
			free(seen);
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		}
		do {
			cyc[n++] = x;
			for (size_t k = 0; k < p->v[x].nup; k++)
				if (!done[p->v[x].up[k]]) {
					x = p->v[x].up[k];
					break;
				}
		} while (x != cur && n <= p->n);
		for (size_t i = n; i-- > 0;)
			buf_printf(&b, "%s -> ", p->v[cyc[i]].name);
		buf_puts(&b, p->v[cyc[n - 1]].name);
		rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: the stages form a cycle: %s", p->v[cur].src, p->v[cur].line,
				     b.ptr);
		free(cyc);
	}
	free(seen);
	buf_release(&b);
	return rc;
}

int pl_build_dag(struct pipeline *p)
{
	struct outref *outs;
	size_t nouts = 0, *indeg = NULL, *queue = NULL, qh = 0, qt = 0, norder = 0;
	bool *done = NULL;
	struct buf abs = BUF_INIT;
	int rc = 0;

	for (size_t i = 0; i < p->n; i++)
		nouts += p->v[i].nouts;
	outs = ccalloc(nouts + 1, sizeof(*outs));
	if (!outs)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	nouts = 0;
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->v[i].nouts; k++)
			outs[nouts++] = (struct outref){ p->v[i].outs[k].path, i, p->v[i].outs[k].line };
	qsort(outs, nouts, sizeof(*outs), cmp_outref);
	/* one writer per path, and no out inside another */
	for (size_t i = 1; i < nouts; i++) {
		const struct outref *a = &outs[i - 1], *b = &outs[i];
		if (!strcmp(a->path, b->path)) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: '%s' is an out of both '%s' (line %d) and '%s'",
					     p->v[b->stage].src, b->line, b->path, p->v[a->stage].name, a->line, p->v[b->stage].name);
			goto out;
		}
	}
	for (size_t i = 0; i < nouts; i++) {
		struct buf pre = BUF_INIT;
		buf_printf(&pre, "%s/", outs[i].path);
		size_t j = lower_bound(outs, nouts, pre.ptr);
		buf_release(&pre);
		if (j < nouts && is_under(outs[j].path, outs[i].path)) {
			rc = cairn_error_set(CAIRN_EINVALID, "%s:%d: out '%s' of '%s' is inside out '%s' of '%s' (line %d)",
					     p->v[outs[j].stage].src, outs[j].line, outs[j].path, p->v[outs[j].stage].name, outs[i].path,
					     p->v[outs[i].stage].name, outs[i].line);
			goto out;
		}
	}
	for (size_t i = 0; i < p->n; i++)
		for (size_t k = 0; k < p->v[i].ndeps; k++) {
			bool found;
			const struct pl_dep *d = &p->v[i].deps[k];
			if ((rc = link_dep(p, i, d, outs, nouts, &found)))
				goto out;
			/* a dep may be (or hold) data a pointer file tracks, pulled or not;
			 * one that is simply absent is reported by status and repro */
			(void)found;
			if ((rc = link_pointer(p, i, d)))
				goto out;
		}
	/* Kahn's algorithm, in file order among stages that are ready together */
	indeg = ccalloc(p->n + 1, sizeof(size_t));
	queue = ccalloc(p->n + 1, sizeof(size_t));
	done = ccalloc(p->n + 1, sizeof(bool));
	p->order = ccalloc(p->n + 1, sizeof(size_t));
	if (!indeg || !queue || !done || !p->order) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < p->n; i++)
		indeg[i] = p->v[i].nup;
	for (size_t i = 0; i < p->n; i++)
		if (!indeg[i])
			queue[qt++] = i;
	while (qh < qt) {
		size_t s = queue[qh++];
		done[s] = true;
		p->order[norder++] = s;
		/* dependants: stages that list s upstream */
		for (size_t i = 0; i < p->n; i++)
			for (size_t k = 0; k < p->v[i].nup; k++)
				if (p->v[i].up[k] == s && --indeg[i] == 0)
					queue[qt++] = i;
	}
	if (norder < p->n)
		rc = report_cycle(p, done);
out:
	free(outs);
	free(indeg);
	free(queue);
	free(done);
	buf_release(&abs);
	return rc;
}

static json_t *outputs_json(const struct pl_stage *s)
{
	static const char *const kinds[] = { "out", "metric", "plot" };
	json_t *v = json_array();

	for (size_t k = 0; v && k < s->nouts; k++)
		json_array_append_new(v, json_pack("{s:s,s:s,s:b}", "path", s->outs[k].path, "kind", kinds[s->outs[k].kind],
						   "cache", s->outs[k].cache));
	return v;
}

json_t *pipeline_dag_json(const struct pipeline *p)
{
	json_t *stages = json_array();

	/* pointer files first, as the sources of the graph */
	for (size_t i = 0; stages && i < p->nptrs; i++) {
		json_t *outs = json_array(), *outputs = json_array();
		for (size_t k = 0; k < p->ptrs[i].nouts; k++) {
			json_array_append_new(outs, json_string(p->ptrs[i].outs[k]));
			json_array_append_new(outputs, json_pack("{s:s,s:s,s:b}", "path", p->ptrs[i].outs[k], "kind", "out",
								 "cache", 1));
		}
		if (json_array_append_new(stages, json_pack("{s:s,s:s,s:n,s:[],s:[],s:o,s:o,s:[]}", "name", p->ptrs[i].file,
							    "kind", "pointer", "cmd", "after", "deps", "outs", outs,
							    "outputs", outputs, "params"))) {
			json_decref(stages);
			stages = NULL;
		}
	}
	for (size_t oi = 0; stages && oi < p->n; oi++) {
		const struct pl_stage *s = &p->v[p->order[oi]];
		json_t *up = json_array(), *deps = json_array(), *outs = json_array(), *params = json_array(), *cmd;
		for (size_t k = 0; k < s->npup; k++)
			json_array_append_new(up, json_string(p->ptrs[s->pup[k]].file));
		for (size_t k = 0; k < s->nup; k++)
			json_array_append_new(up, json_string(p->v[s->up[k]].name));
		for (size_t k = 0; k < s->ndeps; k++)
			json_array_append_new(deps, json_string(s->deps[k].path));
		for (size_t k = 0; k < s->nouts; k++)
			json_array_append_new(outs, json_string(s->outs[k].path));
		for (size_t k = 0; k < s->nparams; k++)
			json_array_append_new(params, json_pack("[s,s?]", s->params[k].file, s->params[k].key));
		if (s->ncmds == 1) {
			cmd = json_string(s->cmds[0]);
		} else {
			cmd = json_array();
			for (size_t k = 0; k < s->ncmds; k++)
				json_array_append_new(cmd, json_string(s->cmds[k]));
		}
		if (json_array_append_new(stages, json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:o}", "name", s->name,
							    "kind", "stage", "file", s->src, "cmd", cmd, "wdir", s->wdir,
							    "after", up, "deps", deps, "outs", outs, "outputs",
							    outputs_json(s), "params", params))) {
			json_decref(stages);
			stages = NULL;
		}
	}
	return stages ? json_pack("{s:s,s:O,s:o}", "file", p->file, "files", p->files, "stages", stages) : NULL;
}
