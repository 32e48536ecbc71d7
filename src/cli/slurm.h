/*
 * slurm.h - what `consolidate scrontab`, `submit` and `k8s` say the same
 * way to a cluster's batch system: job names, the wall-clock limit that
 * backs the watchdog, and shell words.
 */
#ifndef CONSOLIDATE_CLI_SLURM_H
#define CONSOLIDATE_CLI_SLURM_H

#include <stdint.h>

#include "consolidate/config.h"
#include "consolidate/util.h"

/* The batch system's limit for one step of the job, in whole seconds
 * rounded up: max_runtime plus kill_grace plus one minute, so the job's
 * own watchdog (which records the run as stopped, exit 4) always acts
 * first and the batch system's kill is only a backstop.  0 when the job
 * has no max_runtime. */
int64_t cns_batch_limit_s(const struct cns_job_conf *job);
/* Appends seconds as Slurm's --time value, "D-HH:MM:00", rounded up to
 * the minute (Slurm's unit). */
void cns_batch_slurm_time(struct cns_buf *b, int64_t seconds);

/* Appends `s` as one /bin/sh word: as is when it holds only characters
 * the shell leaves alone, else in single quotes. */
void cns_batch_sh_word(struct cns_buf *b, const char *s);

/* Appends the batch job name of a job: "consolidate-" + its name, with
 * anything but letters, digits, "-", "_" and "." turned into "_" (names
 * reach sbatch options, YAML and Kubernetes labels). */
void cns_batch_job_name(struct cns_buf *b, const char *job);

#endif
