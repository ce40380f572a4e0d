/* peak-rss: run a command and print its peak resident set size in KiB.
 *
 *   peak-rss PROGRAM [ARG...]
 *
 * The kernel counts in a child's peak RSS the memory of the process it was
 * forked from, until it calls exec: forked from Python (ci/bench/decode),
 * the figure was Python's, not the program's. This process is small, so
 * what it prints is the program's own. Exits with the program's status
 * (127 if it could not be run); its output goes to /dev/null. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: peak-rss PROGRAM [ARG...]\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("peak-rss: fork");
		return 127;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(argv[1], argv + 1);
		_exit(127);
	}
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("peak-rss: wait4");
		return 127;
	}
	printf("%ld\n", ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
