/*
 * test_man_keys.c - consolidate.conf(5) and the key table cannot drift
 * apart.
 *
 * The manual documents each key of cns_config_keys() as a list item
 * ".It Ic NAME No = TYPE" inside the subsection ".Ss [job]", ".Ss [target]"
 * or ".Ss [source NAME]" of its section.  Within the item, a default is
 * written as a line "Default:" followed by ".Ql VALUE", and a required key
 * has a line starting with "Required.".  The checker below reads the page
 * by that convention and reports, for every key, what is missing or
 * different from the table: an undocumented key, a key documented twice
 * or in the wrong section, a key the table no longer has, a wrong type or
 * set of values, a default or "Required." that disagrees, an integer range
 * not mentioned.
 *
 * The page is read from man/consolidate.conf.5 relative to the working
 * folder (the repository root), or below $CNS_ROOT when that is set.
 * Small synthetic pages check that the checker itself finds each kind of
 * drift, with its exact message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consolidate/config.h"
#include "consolidate/util.h"

#define PAGE "man/consolidate.conf.5"

/* ---- the page as lines ---- */

struct page {
	int n;
	char **line; /* normalized: see normalize() */
};

/* Removes the escapes that only steer mandoc ("\&") and spells out the
 * ones that stand for a character ("\(dq", "\e"), so that a default such
 * as "," or "\"" reads as it does in the key table. */
static char *normalize(const char *s, size_t n)
{
	char *out = cns_xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == '&') {
			i++;
		} else if (s[i] == '\\' && i + 3 < n &&
			   !strncmp(s + i + 1, "(dq", 3)) {
			out[o++] = '"';
			i += 3;
		} else if (s[i] == '\\' && i + 1 < n && s[i + 1] == 'e') {
			out[o++] = '\\';
			i++;
		} else {
			out[o++] = s[i];
		}
	}
	while (o > 0 &&
	       (out[o - 1] == ' ' || out[o - 1] == '\t' || out[o - 1] == '\r'))
		o--;
	out[o] = '\0';
	return out;
}

static void page_from_text(struct page *pg, const char *text)
{
	const char *s = text;

	pg->n = 0;
	pg->line = NULL;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		pg->line = cns_xrealloc(pg->line,
					sizeof(char *) * (size_t)(pg->n + 1));
		pg->line[pg->n++] = normalize(s, n);
		s += n + (nl != NULL);
	}
}

static void page_release(struct page *pg)
{
	for (int i = 0; i < pg->n; i++)
		free(pg->line[i]);
	free(pg->line);
	pg->n = 0;
	pg->line = NULL;
}

/* Reads the installed page; returns false when it cannot be read. */
static bool page_load(struct page *pg, char *path, size_t size)
{
	const char *root = getenv("CNS_ROOT");
	struct cns_buf text;
	char chunk[4096];
	size_t got;
	FILE *f;

	if (root && *root)
		snprintf(path, size, "%s/%s", root, PAGE);
	else
		snprintf(path, size, "%s", PAGE);
	f = fopen(path, "r");
	if (!f)
		return false;
	cns_buf_init(&text);
	cns_buf_add(&text, "", 0);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cns_buf_add(&text, chunk, got);
	fclose(f);
	page_from_text(pg, text.data);
	cns_buf_release(&text);
	return true;
}

/* ---- the convention ---- */

/* One documented key: lines [first, last) of the page. */
struct doc {
	const char *section; /* "job", "target", "source" */
	char *name;
	int first, last;
};

struct docs {
	int n;
	struct doc *d;
	int nsections; /* key subsections found */
	bool seen[3];
};

static const char *const sections[] = { "job", "target", "source" };
static const char *const headers[] = { "[job]", "[target]", "[source NAME]" };

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* The key subsection a ".Ss" line opens, or -1. */
static int section_of(const char *line)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(line + 4, headers[i]))
			return i;
	return -1;
}

/* The name of a key item ".It Ic NAME ...", malloc'ed, or NULL. */
static char *item_name(const char *line)
{
	const char *s;
	size_t n;
	char *name;

	if (!starts(line, ".It Ic "))
		return NULL;
	s = line + strlen(".It Ic ");
	n = strcspn(s, " \t");
	if (n == 0)
		return NULL;
	name = cns_xmalloc(n + 1);
	memcpy(name, s, n);
	name[n] = '\0';
	return name;
}

/* Finds every key item.  An item ends at the next item of its own list,
 * at the end of that list, or at the next subsection or section. */
static void find_docs(const struct page *pg, struct docs *ds)
{
	int sec = -1, depth = 0;

	memset(ds, 0, sizeof(*ds));
	for (int i = 0; i < pg->n; i++) {
		const char *l = pg->line[i];
		char *name;

		if (starts(l, ".Sh ") || starts(l, ".Ss ")) {
			sec = starts(l, ".Ss ") ? section_of(l) : -1;
			if (sec >= 0 && !ds->seen[sec]) {
				ds->seen[sec] = true;
				ds->nsections++;
			}
			depth = 0;
			continue;
		}
		if (starts(l, ".Bl")) {
			depth++;
			continue;
		}
		if (starts(l, ".El")) {
			depth--;
			continue;
		}
		if (sec < 0 || depth != 1 || !(name = item_name(l)))
			continue;
		ds->d = cns_xrealloc(ds->d,
				     sizeof(*ds->d) * (size_t)(ds->n + 1));
		ds->d[ds->n] = (struct doc){ sections[sec], name, i, pg->n };
		/* Where the item ends. */
		for (int j = i + 1, dj = depth; j < pg->n; j++) {
			const char *m = pg->line[j];

			if (starts(m, ".Sh ") || starts(m, ".Ss ") ||
			    (dj == depth && starts(m, ".It")) ||
			    (starts(m, ".El") && --dj < depth)) {
				ds->d[ds->n].last = j;
				break;
			}
			if (starts(m, ".Bl"))
				dj++;
		}
		ds->n++;
	}
}

static void docs_release(struct docs *ds)
{
	for (int i = 0; i < ds->n; i++)
		free(ds->d[i].name);
	free(ds->d);
	memset(ds, 0, sizeof(*ds));
}

/* ---- the checks ---- */

struct problems {
	struct cns_buf text; /* one problem per line */
	int n;
};

static void problem(struct problems *pr, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void problem(struct problems *pr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cns_buf_printf(&pr->text, "%s\n", buf);
	pr->n++;
}

static const char *label(const char *section)
{
	for (int i = 0; i < 3; i++)
		if (!strcmp(section, sections[i]))
			return headers[i];
	return section;
}

/* What follows ".It Ic NAME No = " for a key of this type; for strings
 * only the "Ar " that introduces a placeholder is fixed. */
static void type_text(const struct cns_config_key *k, struct cns_buf *b,
		      bool *prefix_only)
{
	*prefix_only = false;
	switch (k->type) {
	case CNS_KEY_STRING:
		cns_buf_adds(b, "Ar ");
		*prefix_only = true;
		return;
	case CNS_KEY_PATH: cns_buf_adds(b, "Ar path"); return;
	case CNS_KEY_SECRET: cns_buf_adds(b, "Ar secret"); return;
	case CNS_KEY_INT: cns_buf_adds(b, "Ar integer"); return;
	case CNS_KEY_BOOL: cns_buf_adds(b, "Cm yes | no"); return;
	case CNS_KEY_DURATION: cns_buf_adds(b, "Ar duration"); return;
	case CNS_KEY_LIST: cns_buf_adds(b, "Ar list"); return;
	case CNS_KEY_CHAR: cns_buf_adds(b, "Ar char"); return;
	case CNS_KEY_REJECTS: cns_buf_adds(b, "Ar count | percent"); return;
	case CNS_KEY_PERCENT: cns_buf_adds(b, "Ar percent"); return;
	case CNS_KEY_ENUM:
		cns_buf_adds(b, "Cm ");
		for (const char *v = k->values; *v; v++) {
			if (*v == '|')
				cns_buf_adds(b, " | ");
			else
				cns_buf_addc(b, *v);
		}
		return;
	}
}

/* True when the item's text holds n as a number of its own. */
static bool mentions_number(const struct page *pg, const struct doc *d,
			    long long n)
{
	char want[32];
	size_t len = (size_t)snprintf(want, sizeof(want), "%lld", n);

	for (int i = d->first; i < d->last; i++) {
		const char *l = pg->line[i];

		for (const char *p = strstr(l, want); p;
		     p = strstr(p + 1, want)) {
			bool before = p == l || !(p[-1] >= '0' && p[-1] <= '9');
			bool after = !(p[len] >= '0' && p[len] <= '9');

			if (before && after)
				return true;
		}
	}
	return false;
}

static void check_key(const struct page *pg, const struct doc *d,
		      const struct cns_config_key *k, struct problems *pr)
{
	const char *lab = label(k->section);
	const char *def = NULL;
	bool required = false, prefix_only;
	struct cns_buf want;

	/* The item line: name and type. */
	cns_buf_init(&want);
	cns_buf_printf(&want, ".It Ic %s No = ", k->name);
	type_text(k, &want, &prefix_only);
	if (prefix_only ? !starts(pg->line[d->first], want.data)
			: strcmp(pg->line[d->first], want.data))
		problem(pr, "%s key \"%s\": expected \"%s%s\", found \"%s\"",
			lab, k->name, want.data, prefix_only ? "..." : "",
			pg->line[d->first]);
	cns_buf_release(&want);

	/* Default and "Required.". */
	for (int i = d->first + 1; i < d->last; i++) {
		const char *l = pg->line[i];

		if (starts(l, "Required."))
			required = true;
		if (strcmp(l, "Default:"))
			continue;
		if (i + 1 < d->last && starts(pg->line[i + 1], ".Ql "))
			def = pg->line[i + 1] + 4;
		else
			def = "";
	}
	if (k->def) {
		size_t n = strlen(k->def);

		if (!def)
			problem(pr,
				"%s key \"%s\": default \"%s\" is not "
				"documented (expected \"Default:\" and "
				"\".Ql %s\")",
				lab, k->name, k->def, k->def);
		else if (strncmp(def, k->def, n) ||
			 (def[n] != '\0' && def[n] != ' '))
			problem(pr,
				"%s key \"%s\": documented default \"%.*s\" "
				"differs from the table's \"%s\"",
				lab, k->name, (int)strcspn(def, " "), def,
				k->def);
	} else if (def) {
		problem(pr,
			"%s key \"%s\": documents a default, but the table "
			"has none",
			lab, k->name);
	}
	if (k->required && !required)
		problem(pr,
			"%s key \"%s\": required, but not documented as "
			"\"Required.\"",
			lab, k->name);
	if (!k->required && required)
		problem(pr,
			"%s key \"%s\": documented as \"Required.\", but "
			"the table has it optional",
			lab, k->name);

	/* The range of an integer. */
	if (k->type == CNS_KEY_INT) {
		if (!mentions_number(pg, d, (long long)k->min))
			problem(pr,
				"%s key \"%s\": the lower bound %lld is "
				"not mentioned",
				lab, k->name, (long long)k->min);
		if (k->max != INT64_MAX &&
		    !mentions_number(pg, d, (long long)k->max))
			problem(pr,
				"%s key \"%s\": the upper bound %lld is "
				"not mentioned",
				lab, k->name, (long long)k->max);
	}
}

/* Checks a page against a key table; every problem goes into pr. */
static void check_page(const struct page *pg, const struct cns_config_key *keys,
		       int nkeys, struct problems *pr)
{
	struct docs ds;

	find_docs(pg, &ds);
	for (int s = 0; s < 3; s++)
		if (!ds.seen[s])
			problem(pr, "no subsection \".Ss %s\"", headers[s]);
	for (int i = 0; i < nkeys; i++) {
		const struct cns_config_key *k = &keys[i];
		const struct doc *found = NULL;
		int times = 0;

		for (int j = 0; j < ds.n; j++) {
			if (strcmp(ds.d[j].section, k->section) ||
			    strcmp(ds.d[j].name, k->name))
				continue;
			found = found ? found : &ds.d[j];
			times++;
		}
		if (!found) {
			problem(pr,
				"%s key \"%s\" is not documented (expected "
				"\".It Ic %s\" under \".Ss %s\")",
				label(k->section), k->name, k->name,
				label(k->section));
			continue;
		}
		if (times > 1)
			problem(pr, "%s key \"%s\" is documented %d times",
				label(k->section), k->name, times);
		check_key(pg, found, k, pr);
	}
	for (int j = 0; j < ds.n; j++) {
		bool known = false;

		for (int i = 0; i < nkeys && !known; i++)
			known = !strcmp(ds.d[j].section, keys[i].section) &&
				!strcmp(ds.d[j].name, keys[i].name);
		if (!known)
			problem(pr,
				"%s documents \"%s\" (line %d), which is not a "
				"key of that section",
				label(ds.d[j].section), ds.d[j].name,
				ds.d[j].first + 1);
	}
	docs_release(&ds);
}

/* ---- the real page ---- */

static void test_page_matches_key_table(void **state)
{
	char path[4096];
	struct page pg;
	struct problems pr;
	const struct cns_config_key *keys;
	int nkeys;

	(void)state;
	if (!page_load(&pg, path, sizeof(path)))
		fail_msg("could not read \"%s\": run from the repository "
			 "root or set CNS_ROOT",
			 path);
	keys = cns_config_keys(&nkeys);
	assert_true(nkeys > 0);
	cns_buf_init(&pr.text);
	cns_buf_add(&pr.text, "", 0);
	pr.n = 0;
	check_page(&pg, keys, nkeys, &pr);
	if (pr.n) {
		/* One line per call: cmocka's message buffer is short. */
		print_error("%s: %d problem%s with the key table:\n", path,
			    pr.n, pr.n == 1 ? "" : "s");
		for (char *l = pr.text.data, *nl; (nl = strchr(l, '\n'));
		     l = nl + 1)
			print_error("  %.*s\n", (int)(nl - l), l);
		cns_buf_release(&pr.text);
		page_release(&pg);
		fail();
	}
	cns_buf_release(&pr.text);
	page_release(&pg);
}

/* Every section of the table is there, and each has keys: a checker that
 * found nothing would pass anything. */
static void test_page_has_every_section(void **state)
{
	char path[4096];
	struct page pg;
	struct docs ds;
	int per[3] = { 0, 0, 0 };

	(void)state;
	if (!page_load(&pg, path, sizeof(path)))
		fail_msg("could not read \"%s\"", path);
	find_docs(&pg, &ds);
	for (int j = 0; j < ds.n; j++)
		for (int s = 0; s < 3; s++)
			per[s] += !strcmp(ds.d[j].section, sections[s]);
	assert_int_equal(ds.nsections, 3);
	assert_true(per[0] > 0);
	assert_true(per[1] > 0);
	assert_true(per[2] > 0);
	docs_release(&ds);
	page_release(&pg);
}

/* ---- the checker on synthetic pages ---- */

static const struct cns_config_key fake_keys[] = {
	{ "job", "batch_size", CNS_KEY_INT, "10000", false, NULL,
	  "rows per chunk", 1, 1000000 },
	{ "job", "transforms", CNS_KEY_PATH, NULL, true, NULL, "transform file",
	  0, 0 },
	{ "target", "mode", CNS_KEY_ENUM, "append", false,
	  "append|upsert|replace", "how rows are loaded", 0, 0 },
	{ "source", "quote", CNS_KEY_CHAR, "\"", false, NULL,
	  "csv: quote character", 0, 0 },
	{ "source", "where", CNS_KEY_STRING, NULL, false, NULL, "SQL condition",
	  0, 0 },
};

#define GOOD_JOB                                                               \
	".Ss [job]\\&\n"                                                       \
	".Bl -tag -width Ds\n"                                                 \
	".It Ic batch_size No = Ar integer\n"                                  \
	"Rows per chunk, from 1 to 1000000.\n"                                 \
	"Default:\n"                                                           \
	".Ql 10000 .\n"                                                        \
	".It Ic transforms No = Ar path\n"                                     \
	"The transform file.\n"                                                \
	"Required.\n"                                                          \
	".El\n"
#define GOOD_TARGET                                                            \
	".Ss [target]\\&\n"                                                    \
	".Bl -tag -width Ds\n"                                                 \
	".It Ic mode No = Cm append | upsert | replace\n"                      \
	"How rows are loaded:\n"                                               \
	".Bl -tag -width Ds\n"                                                 \
	".It Cm append\n"                                                      \
	"adds.\n"                                                              \
	".El\n"                                                                \
	"Default:\n"                                                           \
	".Ql append .\n"                                                       \
	".El\n"
#define GOOD_SOURCE                                                            \
	".Ss [source NAME]\\&\n"                                               \
	"Every driver:\n"                                                      \
	".Bl -tag -width Ds\n"                                                 \
	".It Ic where No = Ar SQL\n"                                           \
	"A condition.\n"                                                       \
	".El\n"                                                                \
	".Pp\n"                                                                \
	"csv only:\n"                                                          \
	".Bl -tag -width Ds\n"                                                 \
	".It Ic quote No = Ar char\n"                                          \
	"Default:\n"                                                           \
	".Ql \\(dq .\n"                                                        \
	".El\n"

struct fake_case {
	const char *what;
	const char *page;
	const char *problems; /* expected, one per line; "" for none */
};

static const struct fake_case fake_cases[] = {
	{ "a page that follows the table",
	  ".Sh KEYS\n" GOOD_JOB GOOD_TARGET GOOD_SOURCE ".Sh SEE ALSO\n", "" },
	{ "a key missing from the page",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"batch_size\" is not documented (expected \".It Ic "
	  "batch_size\" under \".Ss [job]\")\n" },
	{ "a key under the wrong section",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n"
	  "Default:\n.Ql 10000\n"
	  ".It Ic transforms No = Ar path\nRequired.\n"
	  ".It Ic mode No = Cm append | upsert | replace\nDefault:\n"
	  ".Ql append\n.El\n"
	  ".Ss [target]\\&\n" GOOD_SOURCE,
	  "[target] key \"mode\" is not documented (expected \".It Ic mode\" "
	  "under \".Ss [target]\")\n"
	  "[job] documents \"mode\" (line 9), which is not a key of that "
	  "section\n" },
	{ "a section missing", GOOD_JOB GOOD_SOURCE,
	  "no subsection \".Ss [target]\"\n"
	  "[target] key \"mode\" is not documented (expected \".It Ic mode\" "
	  "under \".Ss [target]\")\n" },
	{ "a wrong default",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n"
	  "Default:\n.Ql 1000 .\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"batch_size\": documented default \"1000\" differs "
	  "from the table's \"10000\"\n" },
	{ "a default left out",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"batch_size\": default \"10000\" is not documented "
	  "(expected \"Default:\" and \".Ql 10000\")\n" },
	{ "a default the table does not have, and Required. missing",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n"
	  "Default:\n.Ql 10000 .\n"
	  ".It Ic transforms No = Ar path\nDefault:\n.Ql t.xf\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"transforms\": documents a default, but the table has "
	  "none\n"
	  "[job] key \"transforms\": required, but not documented as "
	  "\"Required.\"\n" },
	{ "an enum value missing, an optional key said to be required",
	  GOOD_JOB ".Ss [target]\\&\n.Bl -tag -width Ds\n"
		   ".It Ic mode No = Cm append | upsert\nRequired.\nDefault:\n"
		   ".Ql append .\n.El\n" GOOD_SOURCE,
	  "[target] key \"mode\": expected \".It Ic mode No = Cm append | "
	  "upsert | replace\", found \".It Ic mode No = Cm append | upsert\"\n"
	  "[target] key \"mode\": documented as \"Required.\", but the table "
	  "has it optional\n" },
	{ "a wrong type and a range bound not mentioned",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar duration\nfrom 1 to 100000\n"
	  "Default:\n.Ql 10000 .\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"batch_size\": expected \".It Ic batch_size No = Ar "
	  "integer\", found \".It Ic batch_size No = Ar duration\"\n"
	  "[job] key \"batch_size\": the upper bound 1000000 is not "
	  "mentioned\n" },
	{ "a key documented twice",
	  GOOD_JOB GOOD_TARGET GOOD_SOURCE
	  ".Ss [source NAME]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic where No = Ar SQL\n.El\n",
	  "[source NAME] key \"where\" is documented 2 times\n" },
	{ "a key the table does not have",
	  GOOD_JOB GOOD_TARGET GOOD_SOURCE
	  ".Ss [source NAME]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic dsn No = Ar name\n.El\n",
	  "[source NAME] documents \"dsn\" (line 37), which is not a key of "
	  "that section\n" },
	{ "an item in a nested list is not a key",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n"
	  ".Bl -tag -width Ds\n.It Ic chunk\nnot a key\n.El\n"
	  "Default:\n.Ql 10000 .\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "" },
	{ "a default outside its key's item does not count",
	  ".Ss [job]\\&\n.Bl -tag -width Ds\n"
	  ".It Ic batch_size No = Ar integer\nfrom 1 to 1000000\n.El\n"
	  "Default:\n.Ql 10000 .\n"
	  ".Bl -tag -width Ds\n"
	  ".It Ic transforms No = Ar path\nRequired.\n.El\n" GOOD_TARGET
		  GOOD_SOURCE,
	  "[job] key \"batch_size\": default \"10000\" is not documented "
	  "(expected \"Default:\" and \".Ql 10000\")\n" },
};

static void test_checker_finds_each_drift(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fake_cases) / sizeof(fake_cases[0]);
	     i++) {
		const struct fake_case *c = &fake_cases[i];
		struct page pg;
		struct problems pr;

		page_from_text(&pg, c->page);
		cns_buf_init(&pr.text);
		cns_buf_add(&pr.text, "", 0);
		pr.n = 0;
		check_page(&pg, fake_keys,
			   (int)(sizeof(fake_keys) / sizeof(fake_keys[0])),
			   &pr);
		if (strcmp(pr.text.data, c->problems))
			print_error("case \"%s\":\nexpected:\n%sgot:\n%s",
				    c->what, c->problems, pr.text.data);
		assert_string_equal(pr.text.data, c->problems);
		cns_buf_release(&pr.text);
		page_release(&pg);
	}
}

/* The escapes mandoc needs are read as the characters they stand for. */
static void test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ ".Ql \\&, .", ".Ql , ." },
		{ ".Ql \\(dq .", ".Ql \" ." },
		{ ".Ss [job]\\&", ".Ss [job]" },
		{ "tab (or \\et)", "tab (or \\t)" },
		{ "trailing blanks  \t", "trailing blanks" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = normalize(cases[i].in, strlen(cases[i].in));

		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_checker_finds_each_drift),
		cmocka_unit_test(test_page_has_every_section),
		cmocka_unit_test(test_page_matches_key_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
