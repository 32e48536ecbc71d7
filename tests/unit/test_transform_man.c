/*
 * test_transform_man.c - keeps consolidate-transforms(7) true: every
 * example line of the manual ("expression \(-> result" inside .EX/.EE)
 * is evaluated and must give the result the page shows, and every
 * example file (between "xf-file begin" and "xf-file end" comments) must
 * compile.  Run from the top of the repository, as `make unit` does.
 */
#include "transform_helper.h"

static FILE *open_page(void)
{
	static const char *const paths[] = {
		"man/consolidate-transforms.7",
		"../man/consolidate-transforms.7",
		"../../man/consolidate-transforms.7",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		FILE *f = fopen(paths[i], "r");

		if (f)
			return f;
	}
	return NULL;
}

/* Roff to plain text: the escapes the page uses.  The example arrow
 * becomes \x01. */
static void unroff(const char *in, char *out, size_t size)
{
	static const struct {
		const char *esc, *text;
	} map[] = {
		{ "\\(->", "\x01" }, { "\\(aq", "'" }, { "\\(dq", "\"" },
		{ "\\(bu", "*" },    { "\\e", "\\" },  { "\\-", "-" },
		{ "\\&", "" },       { "\\fI", "" },   { "\\fB", "" },
		{ "\\fP", "" },      { "\\fR", "" },
	};
	size_t o = 0;

	while (*in && o + 4 < size) {
		bool done = false;

		for (size_t k = 0; k < sizeof(map) / sizeof(*map); k++) {
			size_t l = strlen(map[k].esc);

			if (!strncmp(in, map[k].esc, l)) {
				size_t t = strlen(map[k].text);

				memcpy(out + o, map[k].text, t);
				o += t;
				in += l;
				done = true;
				break;
			}
		}
		if (!done)
			out[o++] = *in++;
	}
	out[o] = '\0';
}

static bool result_matches(const char *want, const char *got)
{
	char buf[1024];
	size_t n = strlen(want);

	if (!strcmp(want, "NULL"))
		return !strcmp(got, "\\N");
	if (!strncmp(want, "error: ", 7))
		return (!strncmp(got, "REJECT: ", 8) &&
			!strcmp(got + 8, want + 7)) ||
		       (!strncmp(got, "COMPILE: ", 9) &&
			!strcmp(got + 9, want + 7));
	if (n >= 2 && want[0] == '\'' && want[n - 1] == '\'') {
		size_t o = 0;

		for (size_t i = 1; i + 1 < n && o + 1 < sizeof(buf); i++) {
			buf[o++] = want[i];
			if (want[i] == '\'' && want[i + 1] == '\'')
				i++;
		}
		buf[o] = '\0';
		return !strcmp(buf, got);
	}
	return !strcmp(want, got);
}

static void test_manual_examples(void **state)
{
	FILE *f = open_page();
	char line[2048], text[2048], got[2048], zone[64] = "";
	struct cns_buf file;
	bool in_ex = false, in_file = false;
	int lineno = 0, examples = 0, files = 0, failed = 0;
	(void)state;

	assert_non_null(f);
	cns_buf_init(&file);
	while (fgets(line, sizeof(line), f)) {
		char *arrow;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, ".\\\" xf-zone ", 12)) {
			snprintf(zone, sizeof(zone), "%.60s", line + 12);
			continue;
		}
		if (!strcmp(line, ".\\\" xf-file begin")) {
			in_file = true;
			cns_buf_reset(&file);
			continue;
		}
		if (!strcmp(line, ".\\\" xf-file end")) {
			struct cns_transform *t = NULL;
			struct cns_error err;

			cns_error_clear(&err);
			if (cns_transform_parse("manual.xf",
						file.data ? file.data : "",
						XF_NOW, &t, &err) < 0) {
				print_error("example file before line %d: "
					    "%d:%d: %s\n",
					    lineno, err.line, err.column,
					    err.message);
				failed++;
			}
			cns_transform_free(t);
			in_file = false;
			files++;
			continue;
		}
		if (!strcmp(line, ".EX")) {
			in_ex = true;
			continue;
		}
		if (!strcmp(line, ".EE")) {
			in_ex = false;
			continue;
		}
		if (!in_ex)
			continue;
		unroff(line, text, sizeof(text));
		if (in_file) {
			cns_buf_adds(&file, text);
			cns_buf_addc(&file, '\n');
			continue;
		}
		arrow = strchr(text, '\x01');
		if (!arrow)
			continue;
		/* "expr \(-> result" */
		arrow[-1] = '\0';
		xf_eval_tz(text, zone[0] && strcmp(zone, "UTC") ? zone : NULL,
			   XF_NULL, XF_NULL, XF_NULL, XF_NULL, got,
			   sizeof(got));
		if (!result_matches(arrow + 2, got)) {
			print_error("line %d: %s\n  page: %s\n  got:  %s\n",
				    lineno, text, arrow + 2, got);
			failed++;
		}
		examples++;
	}
	fclose(f);
	cns_buf_release(&file);
	assert_false(in_ex);
	assert_int_equal(failed, 0);
	/* the page has examples for every function and rule */
	assert_true(examples >= 70);
	assert_true(files >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manual_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
