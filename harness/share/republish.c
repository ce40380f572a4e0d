/* republish: the results server's matrix, built again after uploads
 * (republish.h). */
#include "republish.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void republish_init(struct republish *r, const char *store_dir, const char *const *results,
		    size_t nresults, const struct catalog *cat, unsigned period_s)
{
	memset(r, 0, sizeof *r);
	for (size_t i = 0; i < nresults && r->nsrc < MATRIX_SOURCES_MAX - 1; i++)
		r->src[r->nsrc++] = (struct matrix_source){ results[i], 0 };
	r->src[r->nsrc++] = (struct matrix_source){ store_dir, 1 };
	r->store_dir = store_dir;
	r->cat = cat;
	r->period_s = period_s;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "hilrun serve: matrix: %s\n", msg);
}

int republish_now(struct republish *r, struct hil_err *err)
{
	char *gens = xasprintf("%s/%s.d", r->store_dir, REPUBLISH_DIR);
	char *link = xasprintf("%s/%s", r->store_dir, REPUBLISH_DIR);
	char *tmplink = xasprintf("%s/%s.new", r->store_dir, REPUBLISH_DIR);
	char *gen = NULL, *db = NULL, target[PATH_MAX];
	json_t *m = NULL;
	int rc = -1;
	if (mkdir_p(gens, err) < 0)
		goto out;
	gen = xasprintf("%s/XXXXXX", gens);
	if (!mkdtemp(gen)) {
		hil_seterr(err, "%s: %s", gen, strerror(errno));
		free(gen);
		gen = NULL;
		goto out;
	}
	db = xasprintf("%s/index.sqlite", gen);
	m = matrix_build_sources(r->src, r->nsrc, db, r->cat, warn, NULL, err);
	if (!m || matrix_write_served(m, gen, 1, err) < 0)
		goto out;
	ssize_t n = readlink(link, target, sizeof target - 1);
	target[n > 0 ? n : 0] = '\0';
	unlink(tmplink);
	/* relative, so that the store can move */
	const char *rel = gen + strlen(r->store_dir) + 1;
	if (symlink(rel, tmplink) < 0 || rename(tmplink, link) < 0) {
		hil_seterr(err, "%s: %s", link, strerror(errno));
		goto out;
	}
	if (!strncmp(target, REPUBLISH_DIR ".d/", strlen(REPUBLISH_DIR ".d/")) && !strstr(target, "..")) {
		char *old = xasprintf("%s/%s", r->store_dir, target);
		remove_tree(old);
		free(old);
	}
	r->generation++;
	fprintf(stderr, "hilrun serve: matrix %lu published: %lld runs, %zu cells, %zu disagree\n",
		r->generation, json_integer_value(json_object_get(m, "runs_indexed")),
		json_array_size(json_object_get(m, "cells")),
		json_array_size(json_object_get(m, "disagreements")));
	rc = 0;
out:
	if (rc < 0 && gen)
		remove_tree(gen);
	json_decref(m);
	free(db);
	free(gen);
	free(tmplink);
	free(link);
	free(gens);
	return rc;
}

static void *run(void *arg)
{
	struct republish *r = arg;
	struct hil_err err;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		pthread_mutex_unlock(&r->lock);
		int64_t t0 = now_ms();
		if (republish_now(r, &err) < 0)
			fprintf(stderr, "hilrun serve: matrix not published: %s\n", err.msg);
		pthread_mutex_lock(&r->lock);
		/* At most one build per period: wait it out, gathering pokes. */
		int64_t next = t0 + (int64_t)r->period_s * 1000;
		while (!r->stop && (!r->wanted || now_ms() < next)) {
			if (!r->wanted) {
				pthread_cond_wait(&r->cond, &r->lock);
				continue;
			}
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t left = next - now_ms();
			ts.tv_sec += left / 1000;
			ts.tv_nsec += (left % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&r->cond, &r->lock, &ts);
		}
		if (r->stop)
			break;
		r->wanted = 0;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int republish_start(struct republish *r, struct hil_err *err)
{
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	int e = pthread_create(&r->thread, NULL, run, r);
	if (e) {
		hil_seterr(err, "matrix thread: %s", strerror(e));
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->lock);
		return -1;
	}
	r->started = 1;
	return 0;
}

void republish_poke(struct republish *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->wanted = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void republish_stop(struct republish *r)
{
	if (!r->started)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	r->started = 0;
}
