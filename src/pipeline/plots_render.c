/* plots_render.c - drawing collected plots (plots.h) as one self-contained
 * HTML page of inline SVG charts: line, scatter, smoothed, confusion matrix
 * and horizontal bar templates, images as data: URIs. No script, nothing
 * fetched (a Content-Security-Policy forbids it), every text escaped. */
#include "pipeline/plots.h"
#include "pipeline/plots_int.h"

#include "core/error.h"
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PW 420.0         /* width of a chart's plotting area */
#define PH 240.0         /* its height */
#define ML 64.0          /* left margin: y ticks and label */
#define MT 40.0          /* top: the title */
#define MB 48.0          /* bottom: x ticks and label */
#define MR 20.0
#define LEGEND_W 170.0   /* room for a legend at the right */
#define MAX_CIRCLES 5000 /* line charts mark their points up to this many */
#define MAX_CATS 400     /* classes of a confusion matrix, bars of a bar chart */

static const char *const palette[] = { "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2",
				       "#b279a2", "#eeca3b", "#9d755d", "#ff9da6", "#79706e" };
#define NCOLORS (sizeof(palette) / sizeof(palette[0]))

/* One series of a chart: the data points of one (file, field) source. */
struct series {
	char *label;      /* legend text (owned) */
	double *x, *y;    /* coordinates in data units (x: a category index when categorical) */
	size_t *row;      /* the data point's index in the values */
	size_t n, cap;
};

struct chart {
	const json_t *content;
	const char *tmpl, *xkey, *ykey;
	json_t *values;
	struct series *s;
	size_t ns;
	json_t *xcats;    /* categorical x: the categories in order (NULL: numeric) */
};

static void esc(struct buf *b, const char *s)
{
	buf_put_html(b, s, strlen(s));
}

static void esc_value(struct buf *b, const json_t *v)
{
	struct buf t = BUF_INIT;

	plots__text(&t, v);
	buf_put_html(b, t.ptr, t.len);
	buf_release(&t);
}

static const char *cstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- scales ---- */

struct scale {
	double lo, hi, step;  /* the domain, widened to whole steps */
	double p0, p1;        /* pixels of lo and hi */
};

static void scale_fit(struct scale *sc, double lo, double hi, double p0, double p1, bool zero)
{
	double span, raw, mag, f;

	if (zero) {
		lo = lo > 0 ? 0 : lo;
		hi = hi < 0 ? 0 : hi;
	}
	if (!(lo <= hi)) {
		lo = 0;
		hi = 1;
	}
	if (hi == lo) {
		double d = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;

		lo -= d;
		hi += d;
	}
	span = hi - lo;
	raw = span / 5;
	mag = pow(10, floor(log10(raw)));
	f = raw / mag;
	sc->step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
	sc->lo = floor(lo / sc->step + 1e-9) * sc->step;
	sc->hi = ceil(hi / sc->step - 1e-9) * sc->step;
	if (sc->hi <= sc->lo)
		sc->hi = sc->lo + sc->step;
	sc->p0 = p0;
	sc->p1 = p1;
}

static double scale_px(const struct scale *sc, double v)
{
	return sc->p0 + (v - sc->lo) / (sc->hi - sc->lo) * (sc->p1 - sc->p0);
}

static void put_tick(struct buf *b, double v, double step)
{
	int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);

	if (fabs(v) < step * 1e-6)
		v = 0;
	if (fabs(v) >= 1e6 || dec > 6)
		buf_printf(b, "%.3g", v);
	else
		buf_printf(b, "%.*f", dec, v);
}

/* Grid, ticks and tick labels of a numeric axis. */
static void axis_numeric(struct buf *b, const struct scale *sc, bool horizontal, double x0, double y0, double x1,
			 double y1)
{
	buf_printf(b, "<g class=\"axis %s\">", horizontal ? "x" : "y");
	for (double v = sc->lo; v <= sc->hi + sc->step * 1e-6; v += sc->step) {
		double p = scale_px(sc, v);

		if (horizontal)
			buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p, y0, p, y1, p, y1 + 14);
		else
			buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
				   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0, p, x1, p, x0 - 4, p + 4);
		put_tick(b, v, sc->step);
		buf_puts(b, "</text>");
	}
	buf_printf(b, "<line class=\"domain\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>", x0,
		   horizontal ? y1 : y0, horizontal ? x1 : x0, y1);
}

static void svg_open(struct buf *b, const struct chart *c, double w, double h)
{
	buf_printf(b, "<svg class=\"plot\" data-template=\"%s\" data-series=\"%zu\" width=\"%.0f\" height=\"%.0f\" "
		   "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"", c->tmpl, c->ns, w, h, w, h);
	esc(b, cstr(c->content, "title"));
	buf_printf(b, "\"><text class=\"title\" x=\"%.1f\" y=\"22\" text-anchor=\"middle\">", w / 2);
	esc(b, cstr(c->content, "title"));
	buf_puts(b, "</text>");
}

static void axis_labels(struct buf *b, const struct chart *c, double x0, double x1, double y0, double y1,
			double ylabel_x)
{
	buf_printf(b, "<text class=\"label x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y1 + 36);
	esc(b, cstr(c->content, "x_label"));
	buf_printf(b, "</text><text class=\"label y\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
		   "transform=\"rotate(-90 %.1f %.1f)\">", ylabel_x, (y0 + y1) / 2, ylabel_x, (y0 + y1) / 2);
	esc(b, cstr(c->content, "y_label"));
	buf_puts(b, "</text>");
}

static void legend(struct buf *b, const struct chart *c, double x, double y)
{
	if (c->ns < 2)
		return;
	buf_puts(b, "<g class=\"legend\">");
	for (size_t i = 0; i < c->ns; i++) {
		buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\">", x, y + i * 16.0, palette[i % NCOLORS], x + 14, y + i * 16.0 + 9);
		esc(b, c->s[i].label);
		buf_puts(b, "</text>");
	}
	buf_puts(b, "</g>");
}

/* ---- series ---- */

static int series_add(struct series *s, double x, double y, size_t row)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *nx = crealloc(s->x, cap * sizeof(double));

		if (nx)
			s->x = nx;
		double *ny = nx ? crealloc(s->y, cap * sizeof(double)) : NULL;

		if (ny)
			s->y = ny;
		size_t *nr = ny ? crealloc(s->row, cap * sizeof(size_t)) : NULL;

		if (!nr)
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
		s->row = nr;
		s->cap = cap;
	}
	s->x[s->n] = x;
	s->y[s->n] = y;
	s->row[s->n++] = row;
	return 0;
}

static void chart_release(struct chart *c)
{
	for (size_t i = 0; i < c->ns; i++) {
		free(c->s[i].label);
		free(c->s[i].x);
		free(c->s[i].y);
		free(c->s[i].row);
	}
	free(c->s);
	json_decref(c->xcats);
}

/* The index of the category with v's text in cats (its size when none);
 * add: a new one is appended. */
static size_t cat_lookup(json_t *cats, const json_t *v, bool add)
{
	struct buf t = BUF_INIT;
	size_t i;
	json_t *e;

	plots__text(&t, v);
	json_array_foreach(cats, i, e)
		if (!strcmp(json_string_value(e), t.ptr))
			break;
	if (add && i == json_array_size(cats))
		json_array_append_new(cats, json_string(t.ptr));
	buf_release(&t);
	return i;
}

static size_t cat_index(json_t *cats, const json_t *v)
{
	return cat_lookup(cats, v, true);
}

static size_t find_cat(const json_t *cats, const json_t *v)
{
	return cat_lookup((json_t *)cats, v, false);
}

/* Series from the anchors (one per y source), legend labels from what varies
 * among them (file, field or both, as DVC), and each data point's x and y in
 * the series of its filename and field. Points whose x or y is not a number
 * are left out (categorical x: when some x is not a number, x is the category). */
static int chart_init(struct chart *c, const json_t *entry)
{
	const json_t *anchors;
	bool files_vary = false, fields_vary = false, cat = false;
	size_t i;
	json_t *a, *dp;

	memset(c, 0, sizeof(*c));
	c->content = json_object_get(entry, "content");
	c->tmpl = cstr(c->content, "template");
	c->xkey = cstr(c->content, "x");
	c->ykey = cstr(c->content, "y");
	c->values = json_object_get(json_object_get(c->content, "data"), "values");
	anchors = json_object_get(c->content, "anchors_y_definitions");
	c->ns = json_array_size(anchors);
	if (!(c->s = ccalloc(c->ns ? c->ns : 1, sizeof(*c->s)))) {
		c->ns = 0;
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	json_array_foreach(anchors, i, a) {
		files_vary = files_vary || strcmp(cstr(a, "filename"), cstr(json_array_get(anchors, 0), "filename"));
		fields_vary = fields_vary || strcmp(cstr(a, "field"), cstr(json_array_get(anchors, 0), "field"));
	}
	json_array_foreach(anchors, i, a) {
		struct buf l = BUF_INIT;

		if (files_vary)
			buf_puts(&l, cstr(a, "filename"));
		if (files_vary && fields_vary)
			buf_puts(&l, "::");
		if (fields_vary || !files_vary)
			buf_puts(&l, cstr(a, "field"));
		if (!(c->s[i].label = buf_detach(&l)))
			return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	}
	json_array_foreach(c->values, i, dp) {
		double d;
		json_t *xv = json_object_get(dp, c->xkey);

		if (xv && !json_is_null(xv) && !plots__num(xv, &d) && !json_is_string(xv))
			continue;
		if (xv && json_is_string(xv) && !plots__num(xv, &d))
			cat = true;
	}
	if (cat && !(c->xcats = json_array()))
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	json_array_foreach(c->values, i, dp) {
		const char *fn = cstr(dp, "filename"), *fd = cstr(dp, "field");
		json_t *xv = json_object_get(dp, c->xkey), *yv = json_object_get(dp, c->ykey);
		size_t k;
		double x, y;
		int rc;

		json_array_foreach(anchors, k, a)
			if (!strcmp(fn, cstr(a, "filename")) && !strcmp(fd, cstr(a, "field")))
				break;
		if (k == c->ns || !xv || json_is_null(xv) || !yv)
			continue;
		if (cat)
			x = (double)cat_index(c->xcats, xv);
		else if (!plots__num(xv, &x))
			continue;
		if (plots__is_bar(c->tmpl) || plots__is_confusion(c->tmpl))
			y = 0; /* the y value is a category: read from the data point when drawn */
		else if (!plots__num(yv, &y))
			continue;
		if ((rc = series_add(&c->s[k], x, y, i)))
			return rc;
	}
	return 0;
}

static size_t total_points(const struct chart *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->ns; i++)
		n += c->s[i].n;
	return n;
}

/* ---- line, scatter and smoothed charts ---- */

static int cmp_by_x(const void *a, const void *b, void *arg)
{
	const double *x = arg;
	double d = x[*(const size_t *)a] - x[*(const size_t *)b];

	return d < 0 ? -1 : d > 0 ? 1 : (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
}

/* A locally weighted linear fit (tricube weights over the nearest 30% of
 * the points, at most 200), at each point in x order: DVC's smooth template
 * draws a LOESS curve over the raw line. out[i] is the fit at order[i]. */
static int loess(const struct series *s, size_t *order, double *out)
{
	size_t n = s->n, k = (size_t)ceil(0.3 * (double)n);

	if (k < 3)
		k = 3;
	if (k > 200)
		k = 200;
	if (k > n)
		k = n;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_by_x, s->x);
	for (size_t i = 0; i < n; i++) {
		size_t lo = i > k / 2 ? i - k / 2 : 0, hi;
		double x0 = s->x[order[i]], dmax = 0, sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;

		if (lo + k > n)
			lo = n - k;
		hi = lo + k;
		for (size_t j = lo; j < hi; j++)
			dmax = fmax(dmax, fabs(s->x[order[j]] - x0));
		for (size_t j = lo; j < hi; j++) {
			double xj = s->x[order[j]], yj = s->y[order[j]];
			double u = dmax > 0 ? fabs(xj - x0) / (dmax * 1.0001) : 0, w = pow(1 - u * u * u, 3);

			sw += w;
			sx += w * xj;
			sy += w * yj;
			sxx += w * xj * xj;
			sxy += w * xj * yj;
		}
		{
			double den = sw * sxx - sx * sx;

			out[i] = fabs(den) > 1e-12 * fmax(1, sw * sxx) ? (sy * sxx - sx * sxy) / den + (sw * sxy - sx * sy) / den * x0
								   : sy / sw;
		}
	}
	return 0;
}

static int draw_xy(struct buf *b, struct chart *c)
{
	bool scatter = !strncmp(c->tmpl, "scatter", 7), smooth = !strcmp(c->tmpl, "smooth");
	bool marks = scatter || (!strcmp(c->tmpl, "linear") && total_points(c) <= MAX_CIRCLES);
	bool jitter = !strcmp(c->tmpl, "scatter_jitter");
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
	double w = ML + PW + MR + (c->ns > 1 ? LEGEND_W : 0), h = MT + PH + MB;
	double x0 = ML, x1 = ML + PW, y0 = MT, y1 = MT + PH;
	struct scale sx, sy;
	int rc = 0;

	for (size_t i = 0; i < c->ns; i++)
		for (size_t j = 0; j < c->s[i].n; j++) {
			xmin = fmin(xmin, c->s[i].x[j]);
			xmax = fmax(xmax, c->s[i].x[j]);
			ymin = fmin(ymin, c->s[i].y[j]);
			ymax = fmax(ymax, c->s[i].y[j]);
		}
	svg_open(b, c, w, h);
	if (c->xcats) {
		size_t n = json_array_size(c->xcats), every = n > 12 ? (n + 11) / 12 : 1;

		sx.lo = -0.5;
		sx.hi = n ? (double)n - 0.5 : 0.5;
		sx.step = 1;
		sx.p0 = x0;
		sx.p1 = x1;
		buf_puts(b, "<g class=\"axis x\">");
		for (size_t i = 0; i < n; i += every) {
			double p = scale_px(&sx, (double)i);

			buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", p, y1 + 14);
			esc(b, json_string_value(json_array_get(c->xcats, i)));
			buf_puts(b, "</text>");
		}
		buf_printf(b, "<line class=\"domain\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>", x0, y1, x1, y1);
	} else {
		bool whole = true;

		for (size_t i = 0; whole && i < c->ns; i++)
			for (size_t j = 0; whole && j < c->s[i].n; j++)
				whole = c->s[i].x[j] == floor(c->s[i].x[j]);
		scale_fit(&sx, xmin, xmax, x0, x1, false);
		if (whole && sx.step < 1) {
			/* steps and epochs: whole ticks */
			sx.step = 1;
			sx.lo = floor(sx.lo);
			sx.hi = ceil(sx.hi);
		}
		axis_numeric(b, &sx, true, x0, y0, x1, y1);
	}
	scale_fit(&sy, ymin, ymax, y1, y0, false);
	axis_numeric(b, &sy, false, x0, y0, x1, y1);
	axis_labels(b, c, x0, x1, y0, y1, 16);
	for (size_t i = 0; !rc && i < c->ns; i++) {
		const struct series *s = &c->s[i];
		const char *col = palette[i % NCOLORS];
		size_t *order = NULL;
		double *fit = NULL;

		buf_printf(b, "<g class=\"series\" data-points=\"%zu\" data-name=\"", s->n);
		esc(b, s->label);
		buf_puts(b, "\">");
		if (!scatter && s->n) {
			buf_printf(b, "<polyline class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
				   col, smooth ? " stroke-opacity=\"0.25\"" : "");
			for (size_t j = 0; j < s->n; j++)
				buf_printf(b, "%s%.1f,%.1f", j ? " " : "", scale_px(&sx, s->x[j]), scale_px(&sy, s->y[j]));
			buf_puts(b, "\"/>");
		}
		if (smooth && s->n) {
			order = ccalloc(s->n, sizeof(*order));
			fit = ccalloc(s->n, sizeof(*fit));
			if (!order || !fit)
				rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			else if (!(rc = loess(s, order, fit))) {
				buf_printf(b, "<polyline class=\"smooth\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
					   col);
				for (size_t j = 0; j < s->n; j++)
					buf_printf(b, "%s%.1f,%.1f", j ? " " : "", scale_px(&sx, s->x[order[j]]),
						   scale_px(&sy, fit[j]));
				buf_puts(b, "\"/>");
			}
			free(order);
			free(fit);
		}
		for (size_t j = 0; marks && j < s->n; j++) {
			const json_t *dp = json_array_get(c->values, s->row[j]);
			double jx = 0, jy = 0;

			if (jitter) {
				/* a fixed pseudo-random offset per point, so the page is reproducible */
				unsigned hsh = (unsigned)(s->row[j] * 2654435761u);

				jx = (double)(hsh % 9) - 4;
				jy = (double)((hsh >> 8) % 9) - 4;
			}
			buf_printf(b, "<circle class=\"pt\" cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"><title>",
				   scale_px(&sx, s->x[j]) + jx, scale_px(&sy, s->y[j]) + jy, scatter ? "3" : "2", col);
			esc(b, cstr(c->content, "x_label"));
			buf_puts(b, ": ");
			esc_value(b, json_object_get(dp, c->xkey));
			buf_puts(b, ", ");
			esc(b, s->label);
			buf_puts(b, ": ");
			esc_value(b, json_object_get(dp, c->ykey));
			buf_puts(b, "</title></circle>");
		}
		buf_puts(b, "</g>");
	}
	legend(b, c, x1 + 16, y0);
	buf_puts(b, "</svg>");
	return rc;
}

/* ---- categories: confusion matrices and bars ---- */

static int cmp_cat(const void *a, const void *b)
{
	const char *sa = json_string_value(*(json_t *const *)a), *sb = json_string_value(*(json_t *const *)b);
	json_t *ja = json_string(sa), *jb = json_string(sb);
	double da, db;
	int r;

	/* numbers in numeric order, then text */
	if (ja && jb && plots__num(ja, &da) && plots__num(jb, &db))
		r = da < db ? -1 : da > db;
	else
		r = strcmp(sa, sb);
	json_decref(ja);
	json_decref(jb);
	return r;
}

/* The distinct texts of key in the data points of s, sorted ascending. */
static int categories(const struct chart *c, const struct series *s, const char *key, json_t **out)
{
	json_t *cats = json_array(), **v = NULL, *sorted = NULL;
	size_t n;
	int rc = 0;

	*out = NULL;
	if (!cats)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t j = 0; j < s->n; j++)
		cat_index(cats, json_object_get(json_array_get(c->values, s->row[j]), key));
	n = json_array_size(cats);
	if (n > MAX_CATS) {
		rc = cairn_error_set(CAIRN_ETOOBIG, "plot '%s': %zu classes of '%s' (at most %d)", cstr(c->content, "title"),
				     n, key, MAX_CATS);
		goto done;
	}
	if (!(v = ccalloc(n ? n : 1, sizeof(*v))) || !(sorted = json_array())) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(cats, i);
	qsort(v, n, sizeof(*v), cmp_cat);
	for (size_t i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	*out = sorted;
	sorted = NULL;
done:
	free(v);
	json_decref(sorted);
	json_decref(cats);
	return rc;
}

/* One matrix per series: columns the x field's classes, rows the y field's,
 * each cell the count of data points (confusion_normalized: the share of its
 * row, as DVC's template divides by the count of each y class). */
static int draw_confusion(struct buf *b, struct chart *c)
{
	bool norm = !strcmp(c->tmpl, "confusion_normalized");
	json_t **xc = ccalloc(c->ns ? c->ns : 1, sizeof(*xc)), **yc = ccalloc(c->ns ? c->ns : 1, sizeof(*yc));
	double w = ML + MR, h = MT, cell = 0;
	double *cnt = NULL;
	int rc = 0;

	if (!xc || !yc) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; !rc && i < c->ns; i++)
		if (!(rc = categories(c, &c->s[i], c->xkey, &xc[i])))
			rc = categories(c, &c->s[i], c->ykey, &yc[i]);
	if (rc)
		goto done;
	/* one cell size for all, so matrices compare */
	{
		size_t most = 1;

		for (size_t i = 0; i < c->ns; i++) {
			most = json_array_size(xc[i]) > most ? json_array_size(xc[i]) : most;
			most = json_array_size(yc[i]) > most ? json_array_size(yc[i]) : most;
		}
		cell = fmax(14, fmin(48, 300.0 / (double)most));
		for (size_t i = 0; i < c->ns; i++) {
			w += (double)json_array_size(xc[i]) * cell + (i ? 40 : 0);
			h = fmax(h, MT + 16 + (double)json_array_size(yc[i]) * cell + MB + 8);
		}
		/* wide enough for the title (about 8 px a character at 14 px) */
		w = fmax(w, fmax(240, 8.0 * (double)strlen(cstr(c->content, "title")) + 40));
	}
	svg_open(b, c, w, h);
	for (size_t i = 0, off = 0; i < c->ns; i++) {
		const struct series *s = &c->s[i];
		size_t nx = json_array_size(xc[i]), ny = json_array_size(yc[i]);
		double x0 = ML + (double)off, y0 = MT + 16, vmax = 0;

		free(cnt);
		if (!(cnt = ccalloc(nx * ny + 1, sizeof(*cnt)))) {
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto done;
		}
		for (size_t j = 0; j < s->n; j++) {
			const json_t *dp = json_array_get(c->values, s->row[j]);
			size_t cx = find_cat(xc[i], json_object_get(dp, c->xkey)), cy = find_cat(yc[i], json_object_get(dp, c->ykey));

			if (cx < nx && cy < ny)
				cnt[cy * nx + cx] += 1;
		}
		if (norm)
			for (size_t r = 0; r < ny; r++) {
				double sum = 0;

				for (size_t k = 0; k < nx; k++)
					sum += cnt[r * nx + k];
				for (size_t k = 0; sum > 0 && k < nx; k++)
					cnt[r * nx + k] /= sum;
			}
		for (size_t k = 0; k < nx * ny; k++)
			vmax = fmax(vmax, cnt[k]);
		buf_printf(b, "<g class=\"matrix\" data-rows=\"%zu\" data-cols=\"%zu\" data-name=\"", ny, nx);
		esc(b, s->label);
		buf_puts(b, "\">");
		if (c->ns > 1) {
			buf_printf(b, "<text class=\"subtitle\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
				   x0 + nx * cell / 2, y0 - 4);
			esc(b, s->label);
			buf_puts(b, "</text>");
		}
		for (size_t r = 0; r < ny; r++)
			for (size_t k = 0; k < nx; k++) {
				double v = cnt[r * nx + k], t = vmax > 0 ? v / vmax : 0;
				int shade = (int)lround(255 - t * 200);

				buf_printf(b, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
					   "fill=\"rgb(%d,%d,255)\" stroke=\"#e4e4e4\" data-value=\"%.6g\"><title>", x0 + k * cell, y0 + r * cell,
					   cell, cell, shade, (int)lround(255 - t * 140), v);
				esc(b, cstr(c->content, "x_label"));
				buf_puts(b, ": ");
				esc(b, json_string_value(json_array_get(xc[i], k)));
				buf_puts(b, ", ");
				esc(b, cstr(c->content, "y_label"));
				buf_puts(b, ": ");
				esc(b, json_string_value(json_array_get(yc[i], r)));
				buf_printf(b, norm ? " (%.3f)" : " (%.0f)", v);
				buf_printf(b, "</title></rect><text class=\"count\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
					   "fill=\"%s\">", x0 + (k + 0.5) * cell, y0 + (r + 0.5) * cell + 4,
					   t > 0.6 ? "#fff" : "#222");
				if (cell >= 20)
					buf_printf(b, norm ? "%.2f" : "%.0f", v);
				buf_puts(b, "</text>");
			}
		/* class names: x under the columns, y at the left of the first matrix */
		for (size_t k = 0; k < nx; k++) {
			buf_printf(b, "<text class=\"tick x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
				   x0 + (k + 0.5) * cell, y0 + ny * cell + 14);
			esc(b, json_string_value(json_array_get(xc[i], k)));
			buf_puts(b, "</text>");
		}
		for (size_t r = 0; r < ny; r++) {
			buf_printf(b, "<text class=\"tick y\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 4,
				   y0 + (r + 0.5) * cell + 4);
			esc(b, json_string_value(json_array_get(yc[i], r)));
			buf_puts(b, "</text>");
		}
		buf_puts(b, "</g>");
		off += (size_t)(nx * cell) + 40;
	}
	axis_labels(b, c, ML, w - MR, MT + 16, h - MB - 8, 14);
	buf_puts(b, "</svg>");
done:
	for (size_t i = 0; xc && yc && i < c->ns; i++) {
		json_decref(xc[i]);
		json_decref(yc[i]);
	}
	free(xc);
	free(yc);
	free(cnt);
	return rc;
}

struct bar_cat {
	json_t *name;     /* the category's text */
	double total;     /* its length summed over the series, for sorting */
};

static int cmp_bar_total(const void *a, const void *b)
{
	const struct bar_cat *x = a, *y = b;

	return x->total > y->total ? -1 : x->total < y->total;
}

static int cmp_bar_name(const void *a, const void *b)
{
	const struct bar_cat *x = a, *y = b;

	return cmp_cat(&x->name, &y->name);
}

/* Horizontal bars: the y field's categories as rows, the x field's value as
 * the bar's length (DVC's bar templates put the quantity on x); one band
 * per series in each row. bar_horizontal_sorted orders rows by length. */
static int draw_bar(struct buf *b, struct chart *c)
{
	json_t *cats = json_array();
	struct bar_cat *bc = NULL;
	double *len = NULL, vmin = 0, vmax = 0, band, w, h, x0, x1, y0, y1;
	size_t nc, longest = 1;
	struct scale sx;
	int rc = 0;

	if (!cats)
		return cairn_error_set(CAIRN_ENOMEM, "out of memory");
	for (size_t i = 0; i < c->ns; i++)
		for (size_t j = 0; j < c->s[i].n; j++)
			cat_index(cats, json_object_get(json_array_get(c->values, c->s[i].row[j]), c->ykey));
	nc = json_array_size(cats);
	if (nc > MAX_CATS) {
		rc = cairn_error_set(CAIRN_ETOOBIG, "plot '%s': %zu bars (at most %d)", cstr(c->content, "title"), nc,
				     MAX_CATS);
		goto done;
	}
	bc = ccalloc(nc ? nc : 1, sizeof(*bc));
	len = ccalloc(nc * c->ns + 1, sizeof(*len));
	if (!bc || !len) {
		rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < c->ns; i++)
		for (size_t j = 0; j < c->s[i].n; j++) {
			size_t k = find_cat(cats, json_object_get(json_array_get(c->values, c->s[i].row[j]), c->ykey));

			len[k * c->ns + i] += c->s[i].x[j];
		}
	for (size_t k = 0; k < nc; k++) {
		bc[k].name = json_array_get(cats, k);
		for (size_t i = 0; i < c->ns; i++) {
			bc[k].total += len[k * c->ns + i];
			vmin = fmin(vmin, len[k * c->ns + i]);
			vmax = fmax(vmax, len[k * c->ns + i]);
		}
		longest = strlen(json_string_value(bc[k].name)) > longest ? strlen(json_string_value(bc[k].name)) : longest;
	}
	/* the rows keep their lengths: sort an index over the categories */
	{
		struct bar_cat *sorted = ccalloc(nc ? nc : 1, sizeof(*sorted));
		double *slen = ccalloc(nc * c->ns + 1, sizeof(*slen));

		if (!sorted || !slen) {
			free(sorted);
			free(slen);
			rc = cairn_error_set(CAIRN_ENOMEM, "out of memory");
			goto done;
		}
		memcpy(sorted, bc, nc * sizeof(*bc));
		qsort(sorted, nc, sizeof(*sorted), strcmp(c->tmpl, "bar_horizontal_sorted") ? cmp_bar_name : cmp_bar_total);
		for (size_t k = 0; k < nc; k++) {
			size_t from = find_cat(cats, sorted[k].name);

			memcpy(&slen[k * c->ns], &len[from * c->ns], c->ns * sizeof(*len));
		}
		free(bc);
		free(len);
		bc = sorted;
		len = slen;
	}
	band = fmax(14, fmin(28, PH / (double)(nc ? nc : 1)));
	x0 = ML + fmin(150, 6.5 * (double)(longest > 24 ? 24 : longest));
	x1 = x0 + PW;
	y0 = MT;
	y1 = MT + band * (double)(nc ? nc : 1);
	w = x1 + MR + (c->ns > 1 ? LEGEND_W : 0);
	h = y1 + MB;
	svg_open(b, c, w, h);
	scale_fit(&sx, vmin, vmax, x0, x1, true);
	axis_numeric(b, &sx, true, x0, y0, x1, y1);
	for (size_t k = 0; k < nc; k++) {
		const char *name = json_string_value(bc[k].name);
		double sub = (band - 4) / (double)c->ns;

		buf_printf(b, "<text class=\"tick y\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 - 4,
			   y0 + (k + 0.5) * band + 4);
		if (strlen(name) > 24) {
			buf_put_html(b, name, 23);
			buf_puts(b, "\xe2\x80\xa6");
		} else
			esc(b, name);
		buf_puts(b, "</text>");
		for (size_t i = 0; i < c->ns; i++) {
			double v = len[k * c->ns + i], a = scale_px(&sx, fmin(0, v)), z = scale_px(&sx, fmax(0, v));

			buf_printf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
				   "data-value=\"%.6g\"><title>", a, y0 + k * band + 2 + i * sub, z - a, sub,
				   palette[i % NCOLORS], v);
			esc(b, name);
			buf_puts(b, ": ");
			buf_printf(b, "%.6g", v);
			buf_puts(b, "</title></rect>");
		}
	}
	buf_printf(b, "<line class=\"domain\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0, y0, x0, y1);
	axis_labels(b, c, x0, x1, y0, y1, 14);
	legend(b, c, x1 + 16, y0);
	buf_puts(b, "</svg>");
done:
	free(bc);
	free(len);
	json_decref(cats);
	return rc;
}

/* ---- the page ---- */

static const char page_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>cairn plots</title>\n<style>\n"
	"body { font-family: system-ui, sans-serif; margin: 16px; color: #222; background: #fff; }\n"
	"h1 { font-size: 18px; font-weight: 600; }\n"
	".plots { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }\n"
	"figure { margin: 0; padding: 8px; border: 1px solid #ddd; border-radius: 4px; }\n"
	"figcaption { font-size: 12px; color: #666; margin-top: 4px; }\n"
	"figure img { max-width: 640px; display: block; }\n"
	"svg text { font-size: 11px; fill: #333; }\n"
	"svg .title { font-size: 14px; font-weight: 600; }\n"
	"svg .label { font-size: 12px; }\n"
	"svg .grid { stroke: #eee; }\n"
	"svg .domain { stroke: #888; }\n"
	"svg .pt:hover, svg .bar:hover, svg .cell:hover { stroke: #000; }\n"
	"</style>\n</head>\n<body>\n<h1>Plots</h1>\n<div class=\"plots\">\n";

int plots_render_html(const json_t *plots, struct buf *html)
{
	const json_t *data = json_object_get(plots, "data");
	const char *id;
	json_t *list;
	size_t n = 0;
	int rc = 0;

	buf_puts(html, page_head);
	json_object_foreach((json_t *)data, id, list) {
		size_t i;
		json_t *entry;

		json_array_foreach(list, i, entry) {
			const char *type = cstr(entry, "type");

			n++;
			buf_printf(html, "<figure class=\"plot-%s\" id=\"plot-%zu\" data-id=\"", !strcmp(type, "image") ?
				   "image" : "vega", n);
			esc(html, id);
			buf_puts(html, "\">");
			if (!strcmp(type, "image")) {
				buf_puts(html, "<img src=\"");
				esc(html, cstr(entry, "src"));
				buf_puts(html, "\" alt=\"");
				esc(html, id);
				buf_puts(html, "\">");
			} else {
				struct chart c;

				if (!(rc = chart_init(&c, entry))) {
					if (plots__is_confusion(c.tmpl))
						rc = draw_confusion(html, &c);
					else if (plots__is_bar(c.tmpl))
						rc = draw_bar(html, &c);
					else
						rc = draw_xy(html, &c);
				}
				chart_release(&c);
			}
			if (rc)
				return rc;
			buf_puts(html, "<figcaption>");
			esc(html, id);
			buf_puts(html, "</figcaption></figure>\n");
		}
	}
	if (!n)
		buf_puts(html, "<p>No plots.</p>\n");
	buf_puts(html, "</div>\n</body>\n</html>\n");
	return buf_error(html);
}
