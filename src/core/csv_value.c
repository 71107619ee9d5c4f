/* csv_value.c - what a CSV field holds: integer, float, boolean, ISO datetime or text (csv.h).
 *
 * Numbers are the hot path of profiling (tens of millions of fields), so a
 * decimal literal is scanned once here: its significant digits go into a
 * 64-bit integer and its exponent is counted. When the digits fit in 53 bits
 * and the power of ten is exactly representable (10^0..10^22), one IEEE
 * multiplication or division gives the correctly rounded result (Clinger's
 * fast path); anything else goes to strtod, so every answer is strtod's.
 * The commonest shape of all, [+-]digits[.digits] with at most 18 digits,
 * is read by a shorter loop first (quick_number); it gives what the
 * general scan gives and hands anything else to it. Texts are told from
 * the other kinds by their first byte before any word is compared.
 */
#include "core/csv.h"
#include "core/fault.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const double pow10_exact[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* strtod on a copy of s[0..n) (fields need not be NUL-terminated). */
static double slow_strtod(const char *s, size_t n)
{
	char local[128], *tmp = local;
	double d;

	if (n >= sizeof(local) && !(tmp = cmalloc(n + 1)))
		return 0.0 / 0.0;   /* only for an absurdly long literal when memory is out */
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	d = strtod(tmp, NULL);
	if (tmp != local)
		free(tmp);
	return d;
}

/* A decimal literal; false when s[0..n) is not one. */
static bool parse_number(const char *s, size_t n, struct ccsv_value *v)
{
	const char *p = s, *end = s + n;
	bool neg = false, point = false, exp = false, exact = true;
	uint64_t m = 0;
	int digits = 0, scale = 0, any = 0;
	long e = 0;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	for (; p < end; p++) {
		if (is_digit(*p)) {
			any = 1;
			if (!digits && *p == '0') {        /* a leading zero adds nothing */
				if (point)
					scale--;
				continue;
			}
			if (digits < 19) {
				m = m * 10 + (uint64_t)(*p - '0');
				digits++;
				if (point)
					scale--;
			} else {
				if (*p != '0')
					exact = false;         /* digits beyond 19: strtod decides */
				if (!point)
					scale++;
			}
		} else if (*p == '.' && !point) {
			point = true;
		} else {
			break;
		}
	}
	if (!any)
		return false;
	if (p < end && (*p == 'e' || *p == 'E')) {
		int esign = 1, edigits = 0;

		exp = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			esign = *p++ == '-' ? -1 : 1;
		for (; p < end && is_digit(*p); p++, edigits++)
			if (e < 100000)
				e = e * 10 + (*p - '0');
		if (!edigits)
			return false;
		e *= esign;
	}
	if (p != end)
		return false;
	if (!point && !exp && exact && (digits < 19 || (digits == 19 && m <= (uint64_t)INT64_MAX + neg))) {
		/* an integer literal that fits an int64 (scale counts only trailing zeros past 19 digits) */
		if (scale == 0) {
			v->kind = CCSV_INT;
			v->i = neg ? (int64_t)(0 - m) : (int64_t)m;
			v->d = (double)v->i;
			return true;
		}
	}
	v->kind = CCSV_FLOAT;
	e += scale;
	if (exact && m < ((uint64_t)1 << 53) && e >= -22 && e <= 22) {
		double d = (double)m;

		d = e >= 0 ? d * pow10_exact[e] : d / pow10_exact[-e];
		v->d = neg ? -d : d;
	} else if (m == 0 && exact) {
		v->d = neg ? -0.0 : 0.0;
	} else {
		v->d = slow_strtod(s, n);
	}
	v->i = 0;
	return true;
}

/* [+-]digits[.digits] with 1 to 18 digits in all and no exponent: the
 * shape of nearly every number in a table. 1: read into v; 0: not this
 * shape (parse_number decides). Leading zeros count as digits here, which
 * only sends a few more literals to parse_number; with at most 18 digits
 * m cannot overflow, every integer fits an int64, and the float is m /
 * 10^frac, exact by Clinger's fast path when m < 2^53 (else strtod). */
static inline int quick_number(const char *s, size_t n, struct ccsv_value *v)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	uint64_t m = 0;
	const char *ds, *fs;
	size_t ni, nf = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	ds = p;
	while (p < end && (unsigned)(*p - '0') < 10)
		m = m * 10 + (uint64_t)(*p++ - '0');
	ni = (size_t)(p - ds);
	if (p == end) {
		if (!ni || ni > 18)
			return 0;
		v->kind = CCSV_INT;
		v->i = neg ? -(int64_t)m : (int64_t)m;
		v->d = (double)v->i;
		if (m < ((uint64_t)1 << 53)) {
			v->dmant = m;
			v->dscale = 0;
		}
		return 1;
	}
	if (*p != '.')
		return 0;
	fs = ++p;
	while (p < end && (unsigned)(*p - '0') < 10)
		m = m * 10 + (uint64_t)(*p++ - '0');
	nf = (size_t)(p - fs);
	if (p != end || !(ni + nf) || ni + nf > 18)
		return 0;
	v->kind = CCSV_FLOAT;
	v->i = 0;
	if (m < ((uint64_t)1 << 53)) {
		double d = (double)m / pow10_exact[nf];

		v->d = neg ? -d : d;
		v->dmant = m;
		v->dscale = (int)nf;
	} else {
		v->d = slow_strtod(s, n);
	}
	return 1;
}

static bool word(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !strncasecmp(s, w, n);
}

/* inf, infinity, nan in any case, with an optional sign */
static bool parse_special(const char *s, size_t n, struct ccsv_value *v)
{
	bool neg = false;

	if (n && (*s == '+' || *s == '-')) {
		neg = *s == '-';
		s++;
		n--;
	}
	if (word(s, n, "inf") || word(s, n, "infinity"))
		v->d = neg ? -1.0 / 0.0 : 1.0 / 0.0;
	else if (word(s, n, "nan"))
		v->d = neg ? -(0.0 / 0.0) : 0.0 / 0.0;
	else
		return false;
	v->kind = CCSV_FLOAT;
	v->i = 0;
	return true;
}

static bool parse_bool(const char *s, size_t n, struct ccsv_value *v)
{
	static const char *const t[] = { "true", "True", "TRUE" }, *const f[] = { "false", "False", "FALSE" };

	for (int i = 0; i < 3; i++) {
		if (strlen(t[i]) == n && !memcmp(s, t[i], n)) {
			v->i = 1;
			break;
		}
		if (strlen(f[i]) == n && !memcmp(s, f[i], n)) {
			v->i = 0;
			break;
		}
		if (i == 2)
			return false;
	}
	v->kind = CCSV_BOOL;
	v->d = (double)v->i;
	return true;
}

/* n digits at s as a number, or -1 */
static long fixed_digits(const char *s, const char *end, int n)
{
	long x = 0;

	if (end - s < n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	return x;
}

/* days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar */
static long days_from_civil(long y, long mo, long d)
{
	long era, yoe, doy, doe;

	y -= mo <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool parse_datetime(const char *s, size_t n, struct ccsv_value *v)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s, *end = s + n;
	long y, mo, d, hh = 0, mi = 0, ss = 0, off = 0;
	double frac = 0;
	int dim;

	if ((y = fixed_digits(p, end, 4)) < 0 || end - p < 10 || p[4] != '-' || p[7] != '-')
		return false;
	mo = fixed_digits(p + 5, end, 2);
	d = fixed_digits(p + 8, end, 2);
	if (mo < 1 || mo > 12 || d < 1)
		return false;
	dim = mdays[mo - 1] + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
	if (d > dim)
		return false;
	p += 10;
	if (p < end && (*p == 'T' || *p == ' ')) {
		p++;
		if ((hh = fixed_digits(p, end, 2)) < 0 || end - p < 5 || p[2] != ':' ||
		    (mi = fixed_digits(p + 3, end, 2)) < 0 || hh > 23 || mi > 59)
			return false;
		p += 5;
		if (p < end && *p == ':') {
			if ((ss = fixed_digits(p + 1, end, 2)) < 0 || ss > 60)
				return false;
			p += 3;
			if (p < end && (*p == '.' || *p == ',')) {
				double scale = 0.1;
				const char *q = ++p;

				for (; p < end && is_digit(*p); p++, scale /= 10)
					frac += (*p - '0') * scale;
				if (p == q)
					return false;
			}
		}
		if (p < end && *p == 'Z') {
			p++;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int sign = *p == '-' ? -1 : 1;
			long oh, om = 0;

			if ((oh = fixed_digits(p + 1, end, 2)) < 0 || oh > 23)
				return false;
			p += 3;
			if (p < end && *p == ':')
				p++;
			if (p < end) {
				if ((om = fixed_digits(p, end, 2)) < 0 || om > 59)
					return false;
				p += 2;
			}
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return false;
	v->kind = CCSV_DATETIME;
	v->i = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - off;
	v->d = (double)v->i + frac;
	return true;
}

enum ccsv_kind ccsv_value_parse(const char *p, size_t n, struct ccsv_value *v)
{
	const char *s = p;
	size_t m = n;

	v->i = 0;
	v->d = 0;
	v->dmant = 0;
	v->dscale = -1;
	if (!n)
		return v->kind = CCSV_EMPTY;
	/* the common case first: a number with nothing around it */
	if (is_digit(*s) || *s == '-' || *s == '+' || *s == '.') {
		if (quick_number(s, m, v) || parse_number(s, m, v))
			return v->kind;
	}
	while (m && (*s == ' ' || *s == '\t'))
		s++, m--;
	while (m && (s[m - 1] == ' ' || s[m - 1] == '\t'))
		m--;
	if (m && m != n && parse_number(s, m, v))
		return v->kind;
	if (m) {
		/* a special starts (after its sign) with i or n, a boolean with t or f */
		char c = (char)(*s | 0x20), c1 = m > 1 ? (char)(s[1] | 0x20) : 0;

		if ((c == 'i' || c == 'n' || ((*s == '+' || *s == '-') && (c1 == 'i' || c1 == 'n'))) &&
		    parse_special(s, m, v))
			return v->kind;
		if ((c == 't' || c == 'f') && parse_bool(s, m, v))
			return v->kind;
	}
	if (m == n && n >= 10 && parse_datetime(s, m, v))
		return v->kind;
	v->i = 0;
	v->d = 0;
	return v->kind = CCSV_TEXT;
}

const char *ccsv_kind_name(enum ccsv_kind k)
{
	switch (k) {
	case CCSV_EMPTY: return "empty";
	case CCSV_INT: return "integer";
	case CCSV_FLOAT: return "float";
	case CCSV_BOOL: return "boolean";
	case CCSV_DATETIME: return "datetime";
	case CCSV_TEXT: break;
	}
	return "string";
}
