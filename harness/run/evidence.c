/* evidence: see evidence.h. */
#include "evidence.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int evidence_frame(const char *dir, const char *name, const struct frame *f, json_t *info,
		   const char *key)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct hil_err err;
	int rc = frame_write_png(f, path, &err);
	if (rc == 0) {
		json_object_set_new(info, key, json_string(name));
	} else {
		char *error_key = xasprintf("%s_error", key);
		json_object_set_new(info, error_key, json_string(err.msg));
		free(error_key);
		unlink(path); /* ours, in the run's directory: no partial file */
	}
	free(path);
	return rc;
}

int evidence_text(const char *dir, const char *name, const char *text, json_t *info,
		  const char *key)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct hil_err err;
	int rc = write_file_atomic(path, text, strlen(text), &err);
	if (rc == 0)
		json_object_set_new(info, key, json_string(name));
	free(path);
	return rc;
}
