/*
 * cli.h - the one table of commands and their options.
 *
 * Every command and option the program accepts is described once, in
 * cli.c: main() dispatches through it, each command's option parser is
 * generated from it (cns_cli_getopt), `consolidate help` and `--help`
 * print it, and tests/unit/test_man_cli.c checks consolidate(1) against
 * it.  A new option is added to the table and to the command's switch;
 * nothing else is kept in step by hand.
 */
#ifndef CONSOLIDATE_CLI_CLI_H
#define CONSOLIDATE_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One option of one command. */
struct cns_cli_option {
	const char *name; /* long name, without the dashes */
	char letter;      /* short name, or '\0' when it has none */
	int val;          /* what cns_cli_getopt() returns for it */
	const char *arg;  /* the argument's name in help, NULL for a flag */
	const char *doc;  /* help text; "\n" starts a continuation line */
};

struct cns_cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis; /* what follows "consolidate NAME" */
	const char *text;     /* what the command does */
	const struct cns_cli_option *options; /* ends with a NULL name */
	const char *notes; /* printed after the options, or NULL */
	int hidden;        /* an alias such as --version: no help */
};

/* The table, n commands long. */
const struct cns_cli_command *cns_cli_commands(size_t *n);
/* The command called `name`, or NULL. */
const struct cns_cli_command *cns_cli_find(const char *name);

/* getopt_long() for the command named argv[0], with the long options and
 * the option string built from its table entry (plus -h, --help, which
 * returns 'h').  Returns what getopt_long returns. */
int cns_cli_getopt(int argc, char **argv);

/* Reads a count from 1 to 100000 for `command`'s option.  Returns 0, or
 * prints a usage error and returns CNS_EXIT_USAGE. */
int cns_cli_count(const char *command, const char *text, int *n);
/* The current time for `command`: `text` (an --now value or $CNS_NOW,
 * ISO 8601) when not NULL, else the clock.  Returns 0, or prints a usage
 * error and returns CNS_EXIT_USAGE. */
int cns_cli_now(const char *command, const char *text, int64_t *now);

/* Installs fn (which only sets a flag) for SIGINT and SIGTERM. */
void cns_cli_on_stop_signals(void (*fn)(int));

/* Prints "Usage: ..." and the command's help to `out`. */
void cns_cli_print_help(const struct cns_cli_command *c, FILE *out);
/* Prints the list of every command's synopsis and the exit codes. */
void cns_cli_print_usage(FILE *out);

#endif
