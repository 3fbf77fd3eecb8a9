/*
 * Ids the control protocol shows (jobs, calls): one counter for the
 * process, so that a call placed by a job can carry the job's id and no
 * incoming call ever takes an id a job will get.
 */
#ifndef SIPX_BASE_IDS_H
#define SIPX_BASE_IDS_H

#include <stdint.h>

/* 1, 2, 3, …: never 0, never twice in a process. */
uint64_t	ids_next(void);

#endif
