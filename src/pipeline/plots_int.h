/* plots_int.h - what plots.c (collecting) and plots_render.c (drawing) share. */
#ifndef CAIRN_PIPELINE_PLOTS_INT_H
#define CAIRN_PIPELINE_PLOTS_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "core/buf.h"

/* v as a finite number: a JSON number, or a string holding a decimal one
 * (CSV cells, JSON files that quote their numbers). */
bool plots__num(const json_t *v, double *d);
/* Append v as text: a string as is, a number in its shortest form ("0.25",
 * "3"), true/false/null spelled out, anything else as compact JSON. */
void plots__text(struct buf *b, const json_t *v);
/* Does the template draw y (true) or x (bar templates) as the quantity? */
bool plots__is_bar(const char *tmpl);
bool plots__is_confusion(const char *tmpl);

#endif
