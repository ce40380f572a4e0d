/* test_qmp: the QMP client against a real QEMU (greeting, capabilities, ids,
 * error replies, events queued apart from replies, a QEMU that dies or
 * quits), and against malformed input on a socketpair (garbage, overlong
 * lines, silence). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemutest.h"
#include "qmp.h"

static struct qemutest t;
static struct qmp *q;

static void setup(void)
{
	qemutest_start(&t, NULL);
	q = qmp_new(t.qmp_fd);
}

static void teardown(void)
{
	qmp_free(q);
	q = NULL;
	qemutest_stop(&t);
}

START_TEST(handshake_reads_greeting_and_version)
{
	struct hil_err err;
	ck_assert_msg(qmp_handshake(q, now_ms() + 10000, &err) == 0, "%s", err.msg);
	int major = -1, minor = -1, micro = -1;
	ck_assert_int_eq(sscanf(qmp_qemu_version(q), "%d.%d.%d", &major, &minor, &micro), 3);
	ck_assert_int_ge(major, 7);
}
END_TEST

START_TEST(replies_match_their_commands)
{
	struct hil_err err;
	json_t *ret;
	ck_assert(qmp_handshake(q, now_ms() + 10000, &err) == 0);
	ck_assert_msg(qmp_execute(q, "query-status", NULL, &ret, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(json_string_value(json_object_get(ret, "status")), "prelaunch");
	ck_assert(json_is_false(json_object_get(ret, "running")));
	json_decref(ret);
	ck_assert(qmp_execute(q, "query-version", NULL, &ret, now_ms() + 5000, &err) == 0);
	ck_assert(json_is_object(json_object_get(ret, "qemu")));
	json_decref(ret);
	json_t *args = json_pack("{s:s}", "typename", "VGA");
	ck_assert_msg(qmp_execute(q, "device-list-properties", args, &ret, now_ms() + 5000, &err) == 0,
		      "%s", err.msg);
	ck_assert(json_is_array(ret));
	json_decref(ret);
	json_decref(args);
}
END_TEST

START_TEST(error_reply_names_class_and_command)
{
	struct hil_err err;
	ck_assert(qmp_handshake(q, now_ms() + 10000, &err) == 0);
	ck_assert_int_eq(qmp_execute(q, "no-such-command", NULL, NULL, now_ms() + 5000, &err), -1);
	ck_assert_msg(strstr(err.msg, "qmp no-such-command: CommandNotFound: ") == err.msg, "%s", err.msg);
	/* The connection is still usable after an error reply. */
	ck_assert(qmp_execute(q, "query-status", NULL, NULL, now_ms() + 5000, &err) == 0);
}
END_TEST

START_TEST(events_are_queued_apart_from_replies)
{
	struct hil_err err;
	json_t *ret;
	ck_assert(qmp_handshake(q, now_ms() + 10000, &err) == 0);
	ck_assert_int_eq(qmp_pending_events(q), 0);
	ck_assert_msg(qmp_execute(q, "cont", NULL, NULL, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert_msg(qmp_execute(q, "stop", NULL, NULL, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert(qmp_execute(q, "query-status", NULL, &ret, now_ms() + 5000, &err) == 0);
	ck_assert_str_eq(json_string_value(json_object_get(ret, "status")), "paused");
	json_decref(ret);
	/* RESUME then STOP, in order, none of them taken for a reply. */
	int64_t dl = now_ms() + 5000;
	while (qmp_pending_events(q) < 2 && now_ms() < dl) {
		usleep(20000);
		qmp_pump(q, &err);
	}
	json_t *ev = qmp_pop_event(q);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), "RESUME");
	json_decref(ev);
	ev = qmp_pop_event(q);
	ck_assert_ptr_nonnull(ev);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "event")), "STOP");
	json_decref(ev);
}
END_TEST

START_TEST(qemu_killed_mid_session)
{
	struct hil_err err;
	ck_assert(qmp_handshake(q, now_ms() + 10000, &err) == 0);
	kill(t.qemu.pid, SIGKILL);
	proc_wait(&t.qemu, now_ms() + 5000);
	int64_t t0 = now_ms();
	ck_assert_int_eq(qmp_execute(q, "query-status", NULL, NULL, now_ms() + 5000, &err), -1);
	ck_assert_int_lt(now_ms() - t0, 5000); /* noticed the EOF, did not wait out the deadline */
	ck_assert_msg(strstr(err.msg, "closed") || strstr(err.msg, "Broken pipe") ||
		      strstr(err.msg, "reset"), "%s", err.msg);
}
END_TEST

START_TEST(quit_then_eof)
{
	struct hil_err err;
	ck_assert(qmp_handshake(q, now_ms() + 10000, &err) == 0);
	ck_assert_msg(qmp_execute(q, "quit", NULL, NULL, now_ms() + 5000, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(proc_wait(&t.qemu, now_ms() + 5000), 1);
	ck_assert(WIFEXITED(t.qemu.status) && WEXITSTATUS(t.qemu.status) == 0);
	int rc = 0;
	int64_t dl = now_ms() + 5000;
	while (rc == 0 && now_ms() < dl)
		rc = qmp_pump(q, &err);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err.msg, "qmp: QEMU closed the monitor connection");
}
END_TEST

/* Malformed input: a socketpair stands in for the wire, not for QEMU. */
START_TEST(garbage_line_is_a_clear_error)
{
	int sv[2];
	struct hil_err err;
	ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct qmp *g = qmp_new(sv[0]);
	const char *junk = "this is \x01 not json\n";
	ck_assert(write(sv[1], junk, strlen(junk)) > 0);
	ck_assert_int_eq(qmp_pump(g, &err), -1);
	ck_assert_str_eq(err.msg, "qmp: QEMU sent a line that is not a JSON object: 'this is ? not json'");
	qmp_free(g);
	close(sv[1]);
}
END_TEST

START_TEST(overlong_line_is_refused)
{
	int sv[2];
	struct hil_err err;
	ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		char buf[65536];
		memset(buf, 'x', sizeof buf);
		for (int i = 0; i < 40; i++) /* 2.5 MiB, no newline */
			if (write(sv[1], buf, sizeof buf) < 0)
				break;
		_exit(0);
	}
	close(sv[1]);
	struct qmp *g = qmp_new(sv[0]);
	int rc = 0;
	int64_t dl = now_ms() + 10000;
	while (rc == 0 && now_ms() < dl) {
		usleep(1000);
		rc = qmp_pump(g, &err);
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(err.msg, "qmp: QEMU sent a line longer than 1048576 bytes");
	qmp_free(g);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(silent_peer_times_out)
{
	int sv[2];
	struct hil_err err;
	ck_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct qmp *g = qmp_new(sv[0]);
	int64_t t0 = now_ms();
	ck_assert_int_eq(qmp_handshake(g, now_ms() + 300, &err), -1);
	ck_assert_int_ge(now_ms() - t0, 290);
	ck_assert_str_eq(err.msg, "qmp: no answer to the greeting in time");
	qmp_free(g);
	close(sv[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qmp");
	TCase *real = tcase_create("real-qemu");
	tcase_add_checked_fixture(real, setup, teardown);
	tcase_set_timeout(real, 60);
	tcase_add_test(real, handshake_reads_greeting_and_version);
	tcase_add_test(real, replies_match_their_commands);
	tcase_add_test(real, error_reply_names_class_and_command);
	tcase_add_test(real, events_are_queued_apart_from_replies);
	tcase_add_test(real, qemu_killed_mid_session);
	tcase_add_test(real, quit_then_eof);
	suite_add_tcase(s, real);
	TCase *bad = tcase_create("malformed-input");
	tcase_set_timeout(bad, 30);
	tcase_add_test(bad, garbage_line_is_a_clear_error);
	tcase_add_test(bad, overlong_line_is_refused);
	tcase_add_test(bad, silent_peer_times_out);
	suite_add_tcase(s, bad);
	return run_suite(s);
}
