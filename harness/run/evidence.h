/* evidence: what a stage was judged on, kept in the run's directory beside
 * run.json (frames as PNG, the text read on them) and named in the stage's
 * record. A file that cannot be written is said in the record and never
 * left half-written: the record's checksums cover only whole files.
 *
 * Ownership: nothing is kept; arguments are borrowed. */
#ifndef HIL_EVIDENCE_H
#define HIL_EVIDENCE_H

#include <jansson.h>
#include "image.h"

/* Write f to DIR/NAME (PNG). info gets key = NAME, or KEY_error = why
 * not. Returns 0 if written. */
int evidence_frame(const char *dir, const char *name, const struct frame *f, json_t *info,
		   const char *key);
/* Write text to DIR/NAME; info gets key = NAME if written. */
int evidence_text(const char *dir, const char *name, const char *text, json_t *info,
		  const char *key);

#endif
