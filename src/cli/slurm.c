/*
 * slurm.c - helpers shared by the commands that hand a job to a batch
 * system (scrontab, submit, k8s); see slurm.h.
 */
#include "slurm.h"

#include <ctype.h>
#include <string.h>

int64_t cns_batch_limit_s(const struct cns_job_conf *job)
{
	int64_t ms;

	if (job->max_runtime_ms <= 0)
		return 0;
	ms = job->max_runtime_ms + job->kill_grace_ms + 60000;
	return (ms + 999) / 1000;
}

void cns_batch_slurm_time(struct cns_buf *b, int64_t s)
{
	/* Slurm keeps time limits in whole minutes and rounds up; say so
	 * here rather than print seconds it would not keep. */
	s = (s + 59) / 60 * 60;
	cns_buf_printf(b, "%lld-%02lld:%02lld:%02lld", (long long)(s / 86400),
		       (long long)(s / 3600 % 24), (long long)(s / 60 % 60),
		       (long long)(s % 60));
}

void cns_batch_sh_word(struct cns_buf *b, const char *s)
{
	bool plain = *s != '\0';

	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_./-+:=@,%", *p))
			plain = false;
	if (plain) {
		cns_buf_adds(b, s);
		return;
	}
	cns_buf_addc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			cns_buf_adds(b, "'\\''");
		else
			cns_buf_addc(b, *p);
	}
	cns_buf_addc(b, '\'');
}

void cns_batch_job_name(struct cns_buf *b, const char *job)
{
	cns_buf_adds(b, "consolidate-");
	for (const unsigned char *p = (const unsigned char *)job; *p; p++)
		cns_buf_addc(b,
			     isalnum(*p) || strchr("-_.", *p) ? (char)*p : '_');
}
