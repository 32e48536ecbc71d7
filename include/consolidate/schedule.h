/*
 * schedule.h - cron expressions, time zones and the scheduler.
 *
 * Three layers, each usable on its own:
 *
 *   cron  - parses a cron expression into cronie's representation (one
 *           bitset per field plus DOM_STAR/DOW_STAR flags) and computes the
 *           next fire time after an instant, in a given time zone, with
 *           cronie's rules for the days and for daylight-saving changes.
 *   tz    - time zones read from the system's TZif files: UTC <-> local
 *           conversion without touching the process's TZ, so it is safe in
 *           threads; ISO 8601 formatting and parsing.
 *   sched - job definitions for scheduling (schedule, zone, overlap,
 *           catchup, jitter) and the long-running scheduler behind
 *           `consolidate schedule`.
 *
 * Times are int64_t seconds since the Unix epoch (UTC) unless a name says
 * otherwise; "local" seconds are the wall-clock reading of a zone counted
 * as if it were UTC.
 *
 * DST rules (cronie's, see cron(8)): a job whose minute and hour fields do
 * not start with "*" is a fixed-time job.  When the clock jumps forward
 * over a fixed-time job's local time, the job runs once, at the instant of
 * the jump; when the clock goes back, it does not run again in the
 * repeated hour.  A job with "*" first in its minute or hour field follows
 * the wall clock: it runs at every reading of the clock that matches, so
 * twice in a repeated hour and never in a skipped one.
 */
#ifndef CONSOLIDATE_SCHEDULE_H
#define CONSOLIDATE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/error.h"
#include "consolidate/util.h"

/* ---- cron expressions ---- */

/* Longest accepted expression, in bytes. */
#define CNS_CRON_MAX 255

/* How far ahead cns_cron_next() looks before it gives up (8 years, like
 * other crons' searches). */
#define CNS_CRON_HORIZON_S ((int64_t)8 * 366 * 86400)

enum cns_cron_field {
	CNS_CRON_SECOND,
	CNS_CRON_MINUTE,
	CNS_CRON_HOUR,
	CNS_CRON_DOM,
	CNS_CRON_MONTH,
	CNS_CRON_DOW
};

/* Flags, as cronie names them. */
#define CNS_CRON_DOM_STAR 0x01 /* day-of-month starts with "*" */
#define CNS_CRON_DOW_STAR 0x02 /* day-of-week starts with "*" */
#define CNS_CRON_MIN_STAR 0x04 /* minute starts with "*" */
#define CNS_CRON_HR_STAR  0x08 /* hour starts with "*" */
#define CNS_CRON_SECONDS  0x10 /* written with a leading seconds field */
#define CNS_CRON_MACRO    0x20 /* written as @daily, @hourly ... */

/* A parsed expression.  Bit n of a field is set when the field matches the
 * value n: second and minute 0-59, hour 0-23, dom 1-31, month 1-12, dow 0-6
 * with 0 = Sunday (a 7 in the text sets bit 0).  Without a seconds field,
 * `second` is bit 0 only.  The struct is plain data: copy it freely. */
struct cns_cron {
	uint64_t second;
	uint64_t minute;
	uint32_t hour;
	uint32_t dom;
	uint16_t month;
	uint8_t dow;
	unsigned flags;
	/* The expression as written, blanks squeezed to one space; a macro
	 * in lower case. */
	char text[CNS_CRON_MAX + 1];
};

/* Parses a 5-field expression (minute hour day-of-month month day-of-week),
 * a 6-field one with seconds first, or a macro (@yearly @annually @monthly
 * @weekly @daily @midnight @hourly).  On error sets err (CNS_E_CONFIG) with
 * a message naming the field and the value, often with a hint, and returns
 * -1; *c is then unspecified.  An expression that can never fire (day 30
 * of February) is an error too. */
int cns_cron_parse(struct cns_cron *c, const char *expr,
		   struct cns_error *err);

/* True for a job that follows the wall clock across DST changes: "*" first
 * in its minute or hour field (cronie's MIN_STAR/HR_STAR). */
bool cns_cron_is_wildcard(const struct cns_cron *c);

/* True when the local wall-clock reading `local` (seconds) matches every
 * field, with cronie's day-of-month/day-of-week rule. */
bool cns_cron_matches(const struct cns_cron *c, int64_t local);

struct cns_tz;

/* Finds the first fire time strictly after `after` (UTC seconds) in zone
 * tz (NULL: UTC), following the DST rules above.  Returns 0 and sets
 * *next, or -1 with err set when there is none within CNS_CRON_HORIZON_S
 * or `after` is out of the supported range (years 1-9000). */
int cns_cron_next(const struct cns_cron *c, const struct cns_tz *tz,
		  int64_t after, int64_t *next, struct cns_error *err);

/* Appends to `out` one line (ending in '\n') per trap the expression falls
 * into: the day-of-month/day-of-week rule (`0 16 *\/2 * sat` fires on odd
 * days that are Saturdays, `0 0 1-7 * mon` on days 1-7 and on every
 * Monday), steps that do not divide their field (`*\/7` minutes leave a
 * 4-minute gap at the hour), days that some months lack.  Returns the
 * number of warnings (0: nothing to say).  For `consolidate check`. */
int cns_cron_warnings(const struct cns_cron *c, struct cns_buf *out);

/* Copies the text of one field as written into buf (empty for a macro or
 * an absent seconds field).  Returns buf. */
char *cns_cron_field_text(const struct cns_cron *c, enum cns_cron_field f,
			  char *buf, size_t size);

/* The 5 fields for a crontab line (or the macro).  A seconds field that
 * holds one value s is returned in *delay_s (the caller sleeps that long);
 * more than one second value cannot be expressed: -1 with err set. */
int cns_cron_crontab_text(const struct cns_cron *c, struct cns_buf *out,
			  int *delay_s, struct cns_error *err);

/* Appends the systemd OnCalendar= lines (each ending in '\n') that fire at
 * the same local times, with `zone` appended when not NULL, and to `notes`
 * comment lines ("# ...\n") on what systemd cannot say the same way (the
 * day-of-month/day-of-week OR rule needs two lines; DST handling
 * differs).  Returns the number of OnCalendar lines. */
int cns_cron_oncalendar(const struct cns_cron *c, const char *zone,
			struct cns_buf *out, struct cns_buf *notes);

/* ---- time zones ---- */

/* Folder of the tz database; $TZDIR overrides it. */
#define CNS_TZ_DIR "/usr/share/zoneinfo"

/* Loads zone `name` ("Europe/London", "UTC") from the tz database, or the
 * host's zone when name is NULL or empty ($TZ, else /etc/localtime, else
 * UTC).  On success *out must be freed with cns_tz_free().  On error sets
 * err (CNS_E_CONFIG for an unknown name, with a suggestion when one is
 * close) and returns -1.  A loaded zone is immutable: share it between
 * threads freely. */
int cns_tz_load(const char *name, struct cns_tz **out, struct cns_error *err);
/* Builds a zone from a POSIX TZ rule such as "EST5EDT,M3.2.0,M11.1.0". */
int cns_tz_from_rule(const char *rule, struct cns_tz **out,
		     struct cns_error *err);
void cns_tz_free(struct cns_tz *tz);

/* The zone's name as given (or as found for the host's zone). */
const char *cns_tz_name(const struct cns_tz *tz);

/* Offset from UTC in seconds (east positive) in effect at instant t. */
int32_t cns_tz_offset(const struct cns_tz *tz, int64_t t);

/* The first instant c > t at which the offset changes (offset(c) !=
 * offset(c - 1)), or INT64_MAX when it never changes again. */
int64_t cns_tz_next_change(const struct cns_tz *tz, int64_t t);

/* Converts a local reading to UTC.  Returns 0 when the reading exists
 * once, 1 when it exists twice (the earlier instant is chosen), 2 when it
 * falls in a gap (converted with the offset before the gap, so 01:30 in a
 * 01:00->02:00 jump becomes 02:30 after it). */
int cns_tz_local_to_utc(const struct cns_tz *tz, int64_t local,
			int64_t *utc);

/* Formats t as ISO 8601 with the zone's offset ("2026-03-29T02:00:00+01:00";
 * an offset with seconds is written +hh:mm:ss), or in UTC with "Z" when tz
 * is NULL.  Returns buf; size 32 is always enough. */
char *cns_time_format(int64_t t, const struct cns_tz *tz, char *buf,
		      size_t size);
/* The same in UTC with milliseconds, for log lines
 * ("2026-03-29T01:00:00.123Z"). */
char *cns_time_format_ms(int64_t ms, char *buf, size_t size);

/* Parses ISO 8601: "2026-03-29T00:30:00Z", "...+01:00", "...+0100",
 * fractions of a second (dropped), a space instead of "T", a date alone
 * (midnight).  A time without an offset is read in zone tz (NULL: UTC).
 * On error sets err (CNS_E_USAGE) and returns -1. */
int cns_time_parse(const char *s, const struct cns_tz *tz, int64_t *t,
		   struct cns_error *err);

/* ---- scheduled jobs ---- */

/* What the scheduler needs of one job file.  Strings are owned by the
 * definition; release with cns_sched_def_release(). */
struct cns_sched_def {
	char *file;     /* absolute path of the job file */
	char *name;     /* job name */
	char *schedule; /* as written; NULL when the job has none */
	char *zone;     /* `timezone =`; NULL: the host's zone */
	struct cns_cron cron;
	struct cns_tz *tz; /* loaded zone (the host's when zone is NULL) */
	enum cns_overlap overlap;
	enum cns_catchup catchup;
	int64_t jitter_ms;        /* `jitter =` as written */
	int64_t jitter_offset_ms; /* this job's stable delay in [0, jitter) */
};

/* Loads the job file with cns_config_load() and prepares its schedule and
 * zone.  A job without a schedule loads fine (schedule NULL).  On error
 * sets err and returns -1 with nothing to release. */
int cns_sched_def_load(const char *file, struct cns_sched_def *def,
		       struct cns_error *err);
void cns_sched_def_release(struct cns_sched_def *def);
/* True when two definitions schedule the same way. */
bool cns_sched_def_same(const struct cns_sched_def *a,
			const struct cns_sched_def *b);

/* A stable delay in [0, jitter_ms) for a job name (FNV-1a of the name), so
 * jobs that share a fire time spread out and each keeps its own slot. */
int64_t cns_sched_jitter_offset(const char *name, int64_t jitter_ms);

/* The default folder of job files. */
#define CNS_SCHED_DEFAULT_DIR "/etc/consolidate/jobs"

/* Expands command-line arguments (folders and job files; none means
 * CNS_SCHED_DEFAULT_DIR) into absolute job file paths: every *.conf file
 * of a folder, sorted, and every file named.  Each string and the array
 * are malloc'ed; free with cns_sched_files_free().  A folder or file that
 * does not exist is an error (CNS_E_IO). */
int cns_sched_list_files(char *const *args, int nargs, char ***files,
			 int *nfiles, struct cns_error *err);
void cns_sched_files_free(char **files, int nfiles);

/* Options of the scheduler. */
struct cns_scheduler_opts {
	char *const *paths; /* folders and job files, as for list_files */
	int npaths;
	int64_t grace_ms;   /* how long a stop waits for running jobs */
	const char *log_file;  /* also log here (appended), or NULL */
	const char *state_dir; /* lock and state files; NULL: job folders */
	/* The command that runs a job; NULL: this program's `run` (through
	 * /proc/self/exe), else a shell command with the job file appended
	 * as an argument (the CNS_SCHEDULE_COMMAND testing aid). */
	const char *command;
};

/* Runs the scheduler in the foreground until SIGTERM or SIGINT; see
 * daemon.c for its behaviour.  Returns 0 after a clean stop, or -1 with
 * err set when it could not start (lock held: CNS_E_LOCKED). */
int cns_scheduler_run(const struct cns_scheduler_opts *opts,
		      struct cns_error *err);

#endif
