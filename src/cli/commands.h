/*
 * commands.h - the subcommands of the consolidate program.
 *
 * Each command lives in its own file src/cli/cmd_NAME.c and returns the
 * process exit code (see enum cns_exit); only main() exits.  argv[0] is the
 * command's name, so each command parses its own options with getopt_long.
 */
#ifndef CONSOLIDATE_CLI_COMMANDS_H
#define CONSOLIDATE_CLI_COMMANDS_H

int cns_cmd_run(int argc, char **argv);
int cns_cmd_check(int argc, char **argv);
int cns_cmd_plan(int argc, char **argv);
int cns_cmd_next(int argc, char **argv);
int cns_cmd_schedule(int argc, char **argv);
int cns_cmd_crontab(int argc, char **argv);
int cns_cmd_systemd(int argc, char **argv);
int cns_cmd_scrontab(int argc, char **argv);
int cns_cmd_k8s(int argc, char **argv);
int cns_cmd_submit(int argc, char **argv);
int cns_cmd_history(int argc, char **argv);
int cns_cmd_log(int argc, char **argv);
int cns_cmd_status(int argc, char **argv);
int cns_cmd_report(int argc, char **argv);
int cns_cmd_unlock(int argc, char **argv);
int cns_cmd_redrive(int argc, char **argv);
int cns_cmd_shard(int argc, char **argv);
int cns_cmd_finalize(int argc, char **argv);
int cns_cmd_help(int argc, char **argv);
int cns_cmd_version(int argc, char **argv);

/* Prints "consolidate: " + message (+ DETAIL/HINT lines) to stderr. */
struct cns_error;
void cns_cli_report(const struct cns_error *err);
/* Prints a usage error for `command` and returns CNS_EXIT_USAGE. */
int cns_cli_usage(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
