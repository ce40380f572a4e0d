/* test_snapshot: HTTP snapshots (harness/channels/snapshot.c) from a real
 * web server (python3's http.server, serving the fixture JPEGs), a server
 * that accepts and never answers, and a port nobody listens on; and the
 * password kept out of every URL shown. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "snapshot.h"
#include "testutil.h"

/* A TCP socket listening on 127.0.0.1 at a port the kernel picked. */
static int listen_any(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(fd, 4) == 0);
	socklen_t len = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* python3 -m http.server on the fixture frames; waits until it answers. */
static pid_t web_server(int *port)
{
	int fd = listen_any(port);
	close(fd); /* the port is free again, for the server to take */
	pid_t pid = fork();
	if (pid == 0) {
		char p[16], *dir = xasprintf("%s/frames", test_fixtures_dir());
		snprintf(p, sizeof p, "%d", *port);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
		       dir, p, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port),
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int ok = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(s);
		if (ok)
			return pid;
		usleep(50000);
	}
	ck_abort_msg("python3 -m http.server did not start");
	return -1;
}

static void stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

START_TEST(test_redact)
{
	static const char *const cases[][2] = {
		{ "http://admin:s3cret@pikvm/api/streamer/snapshot", "http://admin@pikvm/api/streamer/snapshot" },
		{ "https://u:p@h:8443/snapshot?x=1", "https://u@h:8443/snapshot?x=1" },
		{ "http://admin@pikvm/snapshot", "http://admin@pikvm/snapshot" },
		{ "http://pikvm/snapshot", "http://pikvm/snapshot" },
		{ "http://u:p@ss@h/snapshot", "http://u@h/snapshot" }, /* '@' in the password */
		{ "http://h/a:b@c", "http://h/a:b@c" },                /* '@' in the path only */
		{ "10.0.0.5:5900", "10.0.0.5:5900" },
		{ "--capture=http://u:p@h/snapshot", "--capture=http://u@h/snapshot" }, /* a journalled argument */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *shown = snapshot_redact(cases[i][0]);
		ck_assert_str_eq(shown, cases[i][1]);
		free(shown);
	}
}
END_TEST

/* Whole frames from a web server, pixel for pixel the file's, again and
 * again through the worker thread. */
START_TEST(test_frames_from_a_web_server)
{
	int port;
	pid_t web = web_server(&port);
	char *url = xasprintf("http://127.0.0.1:%d/seabios-banner-stdvga-q80.jpg", port);
	char *file = xasprintf("%s/frames/seabios-banner-stdvga-q80.jpg", test_fixtures_dir());
	struct hil_err err;
	struct frame want, got;
	frame_init(&want);
	frame_init(&got);
	ck_assert_msg(frame_read(&want, file, &err) == 0, "%s", err.msg);
	struct snapshot *s = snapshot_open(url, now_ms() + 5000, &err);
	ck_assert_msg(s != NULL, "%s", err.msg);
	int w, h;
	snapshot_size(s, &w, &h);
	ck_assert_int_eq(w, 720);
	ck_assert_int_eq(h, 400);
	for (int i = 0; i < 3; i++) {
		ck_assert_msg(snapshot_grab(s, &got, now_ms() + 5000, &err) == 0, "%s", err.msg);
		ck_assert_int_eq(got.width, want.width);
		ck_assert_int_eq(got.height, want.height);
		ck_assert(!memcmp(got.rgb, want.rgb, (size_t)want.width * want.height * 3));
	}
	ck_assert_msg(strstr(snapshot_describe(s), "image/jpeg, 16 KiB") != NULL, "%s",
		      snapshot_describe(s));
	snapshot_close(s);
	frame_release(&want);
	frame_release(&got);
	free(file);
	free(url);
	stop(web);
}
END_TEST

/* The server goes away: the next fetch fails through snapshot_pump, with
 * the URL named; the last frame is still there. */
START_TEST(test_server_gone)
{
	int port;
	pid_t web = web_server(&port);
	char *url = xasprintf("http://127.0.0.1:%d/seabios-banner-stdvga-q80.jpg", port);
	struct hil_err err;
	struct snapshot *s = snapshot_open(url, now_ms() + 5000, &err);
	ck_assert_msg(s != NULL, "%s", err.msg);
	stop(web);
	struct frame f;
	frame_init(&f);
	ck_assert_int_eq(snapshot_grab(s, &f, now_ms() + 5000, &err), -1);
	ck_assert_msg(strstr(err.msg, url) && strstr(err.msg, "connect"), "%s", err.msg);
	ck_assert_int_eq(snapshot_take_frame(s, &f), 0); /* the frame before */
	ck_assert_int_eq(f.width, 720);
	frame_release(&f);
	snapshot_close(s);
	free(url);
}
END_TEST

/* A server that accepts and never answers: the open gives up at its
 * deadline, saying so. */
START_TEST(test_server_stalls)
{
	int port, fd = listen_any(&port);
	char *url = xasprintf("http://lab:pw@127.0.0.1:%d/snapshot", port);
	struct hil_err err;
	int64_t start = now_ms();
	ck_assert(snapshot_open(url, start + 700, &err) == NULL);
	int64_t took = now_ms() - start;
	ck_assert_msg(took >= 600 && took < 3000, "gave up after %lld ms", (long long)took);
	ck_assert_msg(strstr(err.msg, "timed out") != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "pw") == NULL, "the password shown: %s", err.msg);
	close(fd);
	free(url);
}
END_TEST

START_TEST(test_not_a_url)
{
	struct hil_err err;
	ck_assert(snapshot_open("10.0.0.5:5900", now_ms() + 1000, &err) == NULL);
	ck_assert_str_eq(err.msg, "10.0.0.5:5900 is not an http:// or https:// URL");
	ck_assert(snapshot_is_url("https://pikvm/api/streamer/snapshot"));
	ck_assert(!snapshot_is_url("unix:/tmp/vnc.sock"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("snapshot");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_redact);
	tcase_add_test(tc, test_frames_from_a_web_server);
	tcase_add_test(tc, test_server_gone);
	tcase_add_test(tc, test_server_stalls);
	tcase_add_test(tc, test_not_a_url);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
