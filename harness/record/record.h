/* record: the run record (run.json, schema in docs/run-record.md) and the
 * run directory that holds it with its artifacts.
 *
 * A run is assembled in OUT/runs/.tmp-RUNID/ and becomes OUT/runs/RUNID/
 * with one rename, after run.json (with every artifact's SHA-256) was written
 * and fsync'd: a record is whole or absent.
 *
 * Ownership: functions that return json_t* give a new reference; functions
 * that take one borrow it. Strings returned are the caller's to free. */
#ifndef HIL_RECORD_H
#define HIL_RECORD_H

#include <jansson.h>
#include "util.h"

#define RECORD_SCHEMA "hilrun-run/1"
#define RECORD_FILE "run.json"

/* hostname, kernel release, boot id (/proc/sys/kernel/random/boot_id). */
json_t *record_host_facts(void);
/* "20261123T224501Z-std-vga-seabios-bios-post-default-3fa2" */
char *record_new_run_id(const char *card, const char *firmware, const char *guest,
			const char *variant);
/* Adds "artifacts" (every file in tmp_dir but run.json: path, bytes, sha256)
 * to rec, writes tmp_dir/run.json atomically, renames tmp_dir to final_dir
 * and fsyncs the parent. */
int record_commit(json_t *rec, const char *tmp_dir, const char *final_dir, struct hil_err *err);
/* Read and check a run.json: schema, required fields. */
json_t *record_load(const char *path, struct hil_err *err);

#endif
