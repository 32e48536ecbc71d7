/*
 * test_man_cli.c - consolidate(1) and the command table (src/cli/cli.c)
 * cannot drift apart.
 *
 * The manual documents each command as a top-level item ".It Cm NAME ..."
 * of the list in ".Sh COMMANDS", and each of its options as an item
 * ".It Fl x , Fl \-long Ar arg" (or ".It Fl \-long ...") of a list inside
 * it.  The checker reads the page by that convention and reports every
 * command or option that one side has and the other lacks, and every
 * option whose short name or argument differs.  Small synthetic pages
 * check that the checker finds each kind of drift.
 *
 * The page is read from man/consolidate.1 below $CNS_ROOT, or relative to
 * the working folder (the repository root).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "consolidate/util.h"

#define PAGE "man/consolidate.1"

/* What the page says of one option. */
struct man_opt {
	char name[64];
	char letter;
	bool arg;
};

/* Reads "Fl x , Fl \-long Ar arg" from an ".It" line. */
static bool parse_opt_line(const char *line, struct man_opt *o)
{
	const char *p = line + 3;

	memset(o, 0, sizeof(*o));
	while ((p = strstr(p, "Fl ")) != NULL) {
		p += 3;
		if (p[0] == '\\' && p[1] == '-') {
			size_t n = 0;

			p += 2;
			while (*p && *p != ' ' && n + 1 < sizeof(o->name)) {
				if (p[0] == '\\' && p[1] == '-')
					p++;
				o->name[n++] = *p++;
			}
			o->name[n] = '\0';
		} else if (p[0] && (p[1] == ' ' || p[1] == '\0')) {
			o->letter = p[0];
		}
	}
	o->arg = strstr(line, " Ar ") != NULL;
	return o->name[0] != '\0';
}

/* Checks `text` (a whole page) against the table; appends one line per
 * problem to `out`. */
static void check_page(const char *text, struct cns_buf *out)
{
	size_t ncmd;
	const struct cns_cli_command *cmds = cns_cli_commands(&ncmd);
	bool *seen = cns_xcalloc(ncmd, sizeof(*seen));
	const struct cns_cli_command *cur = NULL;
	bool *opt_seen = NULL;
	int depth = 0;
	bool in_commands = false;
	const char *s = text;
	char line[1024];

	while (*s) {
		size_t n = strcspn(s, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, s);
		s += n + (s[n] == '\n');
		if (!strncmp(line, ".Sh ", 4)) {
			in_commands = !strcmp(line, ".Sh COMMANDS");
			continue;
		}
		if (!in_commands)
			continue;
		if (!strncmp(line, ".Bl", 3)) {
			depth++;
			continue;
		}
		if (!strncmp(line, ".El", 3)) {
			depth--;
			continue;
		}
		if (depth == 1 && !strncmp(line, ".It Cm ", 7)) {
			char name[64];
			const struct cns_cli_command *c;

			if (cur) {
				for (int k = 0; cur->options[k].name; k++)
					if (!opt_seen[k])
						cns_buf_printf(
							out,
							"%s: --%s is not "
							"documented\n",
							cur->name,
							cur->options[k].name);
				free(opt_seen);
				opt_seen = NULL;
			}
			sscanf(line + 7, "%63s", name);
			c = cns_cli_find(name);
			cur = c;
			if (!c || c->hidden) {
				cns_buf_printf(out,
					       "%s: documented but not a "
					       "command\n",
					       name);
				cur = NULL;
				continue;
			}
			seen[c - cmds] = true;
			{
				int k = 0;

				while (c->options[k].name)
					k++;
				opt_seen = cns_xcalloc((size_t)k + 1,
						       sizeof(*opt_seen));
			}
			continue;
		}
		if (cur && depth == 2 && !strncmp(line, ".It Fl", 6)) {
			struct man_opt mo;
			int k;

			if (!parse_opt_line(line, &mo))
				continue;
			for (k = 0; cur->options[k].name; k++)
				if (!strcmp(cur->options[k].name, mo.name))
					break;
			if (!cur->options[k].name) {
				cns_buf_printf(out,
					       "%s: --%s is documented but "
					       "not accepted\n",
					       cur->name, mo.name);
				continue;
			}
			opt_seen[k] = true;
			if (cur->options[k].letter != mo.letter)
				cns_buf_printf(out,
					       "%s: --%s has short name "
					       "\"%c\" in the table, \"%c\" "
					       "in the page\n",
					       cur->name, mo.name,
					       cur->options[k].letter
						       ? cur->options[k].letter
						       : ' ',
					       mo.letter ? mo.letter : ' ');
			if ((cur->options[k].arg != NULL) != mo.arg)
				cns_buf_printf(out,
					       "%s: --%s takes %s argument in "
					       "the table\n",
					       cur->name, mo.name,
					       cur->options[k].arg ? "an"
								   : "no");
		}
	}
	if (cur)
		for (int k = 0; cur->options[k].name; k++)
			if (!opt_seen[k])
				cns_buf_printf(out,
					       "%s: --%s is not documented\n",
					       cur->name, cur->options[k].name);
	free(opt_seen);
	for (size_t i = 0; i < ncmd; i++)
		if (!cmds[i].hidden && !seen[i])
			cns_buf_printf(out, "%s: command is not documented\n",
				       cmds[i].name);
	free(seen);
}

static char *read_page(void)
{
	const char *root = getenv("CNS_ROOT");
	char path[4096];
	struct cns_buf text;
	char chunk[4096];
	size_t got;
	FILE *f;

	snprintf(path, sizeof(path), "%s%s%s", root && *root ? root : "",
		 root && *root ? "/" : "", PAGE);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot read %s", path);
	cns_buf_init(&text);
	cns_buf_add(&text, "", 0);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		cns_buf_add(&text, chunk, got);
	fclose(f);
	return text.data;
}

static void test_page_matches_table(void **state)
{
	char *page = read_page();
	struct cns_buf out;

	(void)state;
	cns_buf_init(&out);
	cns_buf_add(&out, "", 0);
	check_page(page, &out);
	if (out.len)
		fail_msg("consolidate(1) and the command table differ:\n%s",
			 out.data);
	cns_buf_release(&out);
	free(page);
}

/* The checker finds each kind of drift: a page that documents one
 * command, with a wrong short name, a missing argument, an option the
 * table lacks, and a command the table lacks. */
static void test_checker_finds_drift(void **state)
{
	static const char page[] = ".Sh COMMANDS\n"
				   ".Bl -tag -width Ds\n"
				   ".It Cm history Ar job.conf\n"
				   "Shows runs.\n"
				   ".Bl -tag -width Ds\n"
				   ".It Fl x , Fl \\-limit\n"
				   ".It Fl \\-colour Ar when\n"
				   ".El\n"
				   ".It Cm frobnicate\n"
				   ".El\n"
				   ".Sh EXIT STATUS\n";
	struct cns_buf out;

	(void)state;
	cns_buf_init(&out);
	cns_buf_add(&out, "", 0);
	check_page(page, &out);
	assert_non_null(strstr(out.data, "history: --limit has short name "
					 "\"n\" in the table, \"x\" in the "
					 "page\n"));
	assert_non_null(strstr(out.data, "history: --limit takes an argument "
					 "in the table\n"));
	assert_non_null(strstr(out.data, "history: --colour is documented "
					 "but not accepted\n"));
	assert_non_null(strstr(out.data, "history: --json is not "
					 "documented\n"));
	assert_non_null(strstr(out.data, "frobnicate: documented but not a "
					 "command\n"));
	assert_non_null(strstr(out.data, "run: command is not documented\n"));
	cns_buf_release(&out);
}

/* Every command's help prints, and the option parser accepts each
 * option the table lists, long and short. */
static void test_table_drives_getopt(void **state)
{
	size_t ncmd;
	const struct cns_cli_command *cmds = cns_cli_commands(&ncmd);

	(void)state;
	for (size_t i = 0; i < ncmd; i++) {
		if (cmds[i].hidden)
			continue;
		for (int k = 0; cmds[i].options[k].name; k++) {
			const struct cns_cli_option *o = &cmds[i].options[k];
			char longname[80];
			char *argv[4];
			int argc = 0;

			snprintf(longname, sizeof(longname), "--%s", o->name);
			argv[argc++] = (char *)cmds[i].name;
			argv[argc++] = longname;
			if (o->arg)
				argv[argc++] = "x";
			argv[argc] = NULL;
			optind = 1;
			opterr = 0;
			assert_int_equal(cns_cli_getopt(argc, argv), o->val);
			if (o->letter) {
				char shortname[3] = { '-', o->letter, '\0' };

				argv[1] = shortname;
				optind = 1;
				assert_int_equal(cns_cli_getopt(argc, argv),
						 o->val);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_matches_table),
		cmocka_unit_test(test_checker_finds_drift),
		cmocka_unit_test(test_table_drives_getopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
