/* fuzz_bundle: the bundle reader (share/bundle.c, bundle_read) given any
 * bytes as an uploaded body: a tar of entries to keep or refuse within the
 * limits, every refusal a finding. Read with the server's limits and,
 * when the input's first byte is odd, again with limits so small that
 * every cap is reached (a tar's first byte is its name's). The findings are
 * turned into the server's JSON answer and upload --dry-run's text, as a
 * rejection would be. Corpus: tests/fuzz/corpus/bundle/ (tars, see
 * tests/fuzz/README.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "fuzz.h"

static void read_once(const uint8_t *data, size_t size, const struct bundle_limits *lim)
{
	struct bundle b;
	struct findings f;
	bundle_init(&b);
	findings_init(&f);
	size_t errors = bundle_read(data, size, lim, &b, &f);
	fuzz_check(errors == findings_errors(&f), "bundle_read: its count is not the findings'");
	size_t total = 0;
	for (size_t i = 0; i < b.n; i++) {
		const char *code;
		/* What it kept is what its own rules allow. */
		fuzz_check(!bundle_name_problem(b.v[i].name, lim->max_name, &code),
			   "bundle_read kept an unsafe name");
		fuzz_check(b.v[i].len <= lim->max_file && b.v[i].data[b.v[i].len] == 0,
			   "bundle_read kept a file over the limit, or not NUL-ended");
		fuzz_check(bundle_get(&b, b.v[i].name) == &b.v[i], "bundle_read kept a name twice");
		total += b.v[i].len;
	}
	fuzz_check(b.n <= lim->max_entries && total <= lim->max_total,
		   "bundle_read kept more than the limits allow");
	fuzz_findings(&f);
	findings_release(&f);
	bundle_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct bundle_limits tight = { 4, 512, 1024, 16 };
	read_once(data, size, &bundle_limits_default);
	if (size && (data[0] & 1))
		read_once(data, size, &tight);
	return 0;
}
