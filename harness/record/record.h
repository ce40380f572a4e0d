/* record: the run record (run.json, schema in docs/run-record.md) and the
 * run directory that holds it with its artifacts. One builder serves a run
 * that ends (run/run.c) and one that recovery finds cut short
 * (recover.c): the stages, the verdict and furthest-stage rules, and the
 * commit that sheds artifacts when the disk is full, are written once.
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
#include <stdint.h>
#include "catalog.h"
#include "util.h"

/* Written: 1.1 adds a stage's vm_stopped evidence and the verdicts
 * fail:vm-stopped(REASON), fail:guest-panic and error:accel(ACCEL).
 * Read: any 1.x (hilrun-run/1 is 1.0); another major is refused. */
#define RECORD_SCHEMA "hilrun-run/1.2"
#define RECORD_SCHEMA_MAJOR "hilrun-run/1"
#define RECORD_FILE "run.json"

/* The stages a run can prove, in order (docs/run-record.md). A guest
 * proves some of them (its stage set); a record lists those. */
enum stage_id { ST_START, ST_POST, ST_TEXT, ST_GRAPHICS, ST_DRIVER, ST_SHUTDOWN, ST_COUNT };
extern const char *const stage_names[ST_COUNT];
typedef unsigned stage_set; /* bit s: stage s is proven */
#define STAGE_BIT(s) (1u << (s))
/* What every guest proved before the driver stage existed: what a journal
 * entry that names no stages means. */
#define STAGES_FIRMWARE_GUEST                                                                  \
	(STAGE_BIT(ST_START) | STAGE_BIT(ST_POST) | STAGE_BIT(ST_TEXT) | STAGE_BIT(ST_GRAPHICS) | \
	 STAGE_BIT(ST_SHUTDOWN))
/* "start post text driver shutdown" to a set; -1 and err on a name that is
 * no stage. */
int stage_set_parse(const char *names, stage_set *out, struct hil_err *err);

/* One stage as the record states it. */
struct stage_result {
	const char *outcome; /* "pass", "fail", "error", "skip"; NULL until decided */
	char verdict[128];   /* the run's verdict if this is the first stage that failed
			      * or erred ("fail:guest-hang"); "" means OUTCOME:STAGE */
	int64_t t0, t1;      /* monotonic ms; 0: not known */
	json_t *info;        /* detail and evidence, merged into the stage's object */
};

/* The run's verdict: the first stage of the set, in order, that failed or
 * erred; "pass" if none did. */
void record_verdict(const struct stage_result st[ST_COUNT], stage_set set, char *out, size_t n);
/* The last stage of the set in the unbroken run of passes from the start;
 * "none". */
const char *record_furthest_stage(const struct stage_result st[ST_COUNT], stage_set set);

/* What every record states, whether the run wrote it or recovery did.
 * Strings and JSON are borrowed. */
struct record_facts {
	const char *run_id;
	json_t *card;              /* record_card() */
	const char *firmware, *guest, *variant, *station, *accel, *accel_reason;
	const char *expected;      /* the card file's expectation for the cell */
	const char *started_at;    /* UTC */
	const char *finished_at;   /* UTC; NULL: not known */
	int64_t t_start;           /* monotonic ms the stage times count from */
	int64_t duration_ms;       /* -1: not known */
	const struct stage_result *stages; /* ST_COUNT of them */
	stage_set stage_set;       /* the ones the guest proves: the record lists these */
	const char *verdict;       /* NULL: record_verdict() of the stages */
};
/* schema, run_id, card, cell, accelerator, host facts, times, stages,
 * verdict, furthest_stage, expected, as_expected. */
json_t *record_build(const struct record_facts *f);
/* The card as a record (and the journal's start line) names it:
 * {id, name, kind, pci_id, file}. */
json_t *record_card(const struct card *card);

/* hostname, kernel release, boot id (/proc/sys/kernel/random/boot_id). */
json_t *record_host_facts(void);
/* "20261123T224501Z-std-vga-seabios-bios-post-default-3fa2" */
char *record_new_run_id(const char *card, const char *firmware, const char *guest,
			const char *variant);
/* Adds "artifacts" (every file in tmp_dir but run.json: path, bytes, sha256)
 * to rec, writes tmp_dir/run.json atomically, renames tmp_dir to final_dir
 * and fsyncs the parent. */
int record_commit(json_t *rec, const char *tmp_dir, const char *final_dir, struct hil_err *err);
/* record_commit, and if the disk is full (a lab fault): make room by
 * dropping the run's own artifacts, largest first (frames, QEMU's log;
 * never serial.log, the guest's own words), until a record that says so
 * fits: verdict error:disk-full, the verdict the run reached kept beside
 * it. */
int record_commit_or_shed(json_t *rec, const char *tmp_dir, const char *final_dir,
			  struct hil_err *err);
/* hilrun-run/1, or hilrun-run/1.N: the major version this hilrun reads. */
int record_schema_known(const char *schema);
/* The fields every record has, NULL-terminated. */
extern const char *const record_required[];
/* Read and check a run.json: schema (major 1), required fields, a run_id
 * that names one file (the matrix names a page after it). */
json_t *record_load(const char *path, struct hil_err *err);
/* The same for root/rel of a results store, never leaving root
 * (confine.h); a record is at most RECORD_MAX bytes there. */
#define RECORD_MAX (64u << 20)
json_t *record_load_in(const char *root, const char *rel, struct hil_err *err);

#endif
