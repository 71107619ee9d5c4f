/* drift_html.c - the drift report as one self-contained HTML page: a verdict, a table, overlaid histograms in inline SVG. */
#include "stats/drift.h"
#include "core/buf.h"
#include "core/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG_W 360
#define SVG_H 90

static void text(struct buf *b, const char *s)
{
	if (s)
		buf_put_html(b, s, strlen(s));
}

static void number(struct buf *b, json_t *v)
{
	if (json_is_number(v)) {
		double x = json_number_value(v);

		if (x != 0 && (fabs(x) < 1e-3 || fabs(x) >= 1e6))
			buf_printf(b, "%.3e", x);
		else
			buf_printf(b, "%.4g", x);
	} else if (json_is_string(v)) {
		text(b, json_string_value(v));
	} else {
		buf_puts(b, "&ndash;");
	}
}

/* the two sides' shares per bin, as overlaid bars */
static void histogram_svg(struct buf *b, json_t *binning)
{
	json_t *rc = json_object_get(binning, "reference_counts"), *cc = json_object_get(binning, "current_counts");
	size_t n = json_array_size(rc);
	double rt = 0, ct = 0, top = 0;

	if (!n || json_array_size(cc) != n)
		return;
	for (size_t i = 0; i < n; i++) {
		rt += json_number_value(json_array_get(rc, i));
		ct += json_number_value(json_array_get(cc, i));
	}
	for (size_t i = 0; i < n; i++) {
		top = fmax(top, rt ? json_number_value(json_array_get(rc, i)) / rt : 0);
		top = fmax(top, ct ? json_number_value(json_array_get(cc, i)) / ct : 0);
	}
	if (top <= 0)
		return;
	buf_printf(b, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", SVG_W, SVG_H + 2, SVG_W,
		   SVG_H + 2);
	for (size_t i = 0; i < n; i++) {
		double w = (double)SVG_W / (double)n;
		double hr = rt ? json_number_value(json_array_get(rc, i)) / rt / top * SVG_H : 0;
		double hc = ct ? json_number_value(json_array_get(cc, i)) / ct / top * SVG_H : 0;

		buf_printf(b, "<rect class=\"r\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", i * w, SVG_H - hr,
			   w * 0.9, hr);
		buf_printf(b, "<rect class=\"c\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", i * w + w * 0.25,
			   SVG_H - hc, w * 0.5, hc);
	}
	buf_printf(b, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#999\"/></svg>", SVG_H, SVG_W, SVG_H);
}

int drift_report_html(const json_t *r, struct buf *b)
{
	json_t *ds = json_object_get(r, "dataset"), *cols = json_object_get(r, "columns"), *c;
	const char *name;
	bool drift = drift_detected(r);

	buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<title>cairn drift report</title><style>"
		    "body{font:14px system-ui,sans-serif;margin:2em;color:#222}"
		    "h1{font-size:1.4em}table{border-collapse:collapse}"
		    "td,th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:middle}"
		    ".bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}"
		    ".verdict{font-size:1.2em;padding:.5em 1em;display:inline-block;border-radius:4px}"
		    ".verdict.bad{background:#fde7ea}.verdict.ok{background:#e6f4ea}"
		    "rect.r{fill:#4e79a7;opacity:.55}rect.c{fill:#f28e2b;opacity:.9}"
		    ".key span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}"
		    "</style></head><body>\n<h1>Data drift: ");
	text(b, json_string_value(json_object_get(json_object_get(r, "current"), "file")));
	buf_puts(b, " against ");
	text(b, json_string_value(json_object_get(json_object_get(r, "reference"), "file")));
	buf_printf(b, "</h1>\n<p class=\"verdict %s\">%s: %lld of %lld columns drifted (share %.3f, threshold %.3g)</p>\n",
		   drift ? "bad" : "ok", drift ? "Dataset drift" : "No dataset drift",
		   (long long)json_integer_value(json_object_get(ds, "number_of_drifted_columns_with_nulls")),
		   (long long)json_integer_value(json_object_get(ds, "number_of_columns")),
		   json_number_value(json_object_get(ds, "share_of_drifted_columns_with_nulls")),
		   json_number_value(json_object_get(ds, "drift_share")));
	buf_printf(b, "<p>Evidently's rule (values only, nulls dropped): %lld drifted columns. Rows: %lld reference, "
		      "%lld current.</p>\n",
		   (long long)json_integer_value(json_object_get(ds, "number_of_drifted_columns")),
		   (long long)json_integer_value(json_object_get(json_object_get(r, "rows"), "reference")),
		   (long long)json_integer_value(json_object_get(json_object_get(r, "rows"), "current")));
	buf_puts(b, "<p class=\"key\"><span style=\"background:#4e79a7\"></span>reference"
		    "<span style=\"background:#f28e2b\"></span>current</p>\n"
		    "<table><thead><tr><th>column</th><th>type</th><th>test</th><th>score</th><th>threshold</th>"
		    "<th>nulls (ref &rarr; cur)</th><th>verdict</th><th>distribution</th></tr></thead><tbody>\n");
	json_object_foreach(cols, name, c) {
		json_t *ns = json_object_get(c, "null_share");
		bool d = json_is_true(json_object_get(c, "drifted"));

		buf_puts(b, "<tr><td>");
		text(b, name);
		buf_puts(b, "</td><td>");
		text(b, json_string_value(json_object_get(c, "column_type")));
		buf_puts(b, "</td><td>");
		if (json_is_string(json_object_get(c, "selected_test")))
			text(b, json_string_value(json_object_get(c, "selected_test")));
		else
			text(b, json_string_value(json_object_get(c, "note")));
		buf_puts(b, "</td><td>");
		number(b, json_object_get(c, "drift_score"));
		buf_puts(b, "</td><td>");
		number(b, json_object_get(c, "stattest_threshold"));
		buf_puts(b, "</td><td>");
		if (ns)
			buf_printf(b, "%.1f%% &rarr; %.1f%%%s", 100 * json_number_value(json_object_get(ns, "reference")),
				   100 * json_number_value(json_object_get(ns, "current")),
				   json_is_true(json_object_get(ns, "drifted")) ? " <span class=\"bad\">(drift)</span>" : "");
		buf_printf(b, "</td><td class=\"%s\">%s</td><td>", d ? "bad" : "ok", d ? "drift" : "ok");
		histogram_svg(b, json_object_get(c, "binning"));
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody></table>\n<p>Generated by cairn drift. Tests follow Evidently's defaults; see docs/drift.md.</p>\n"
		    "</body></html>\n");
	return b->err ? cairn_error_set(b->err, "out of memory writing the report") : 0;
}
