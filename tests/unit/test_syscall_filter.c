/* The syscall allowlists, installed for real in forked children: what a role needs still
 * works, a call outside the list fails with EPERM, and so does an argument outside its
 * list — except in the auxiliary, where it kills the process (SIGSYS). The policies are
 * the ones the programs install (the roles' sandbox.c files are compiled into this
 * test). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <unistd.h>

#include "syscall_filter.h"

extern const struct syscall_policy aux_syscall_policy;
extern const struct syscall_policy principal_syscall_policy;
extern const struct syscall_policy secondary_syscall_policy;

/* Sanitizer builds allow clone and prctl whole (LeakSanitizer's tracer). */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

enum { CHILD_OK = 0, CHILD_WRONG = 3, CHILD_NO_FILTER = 4 };

typedef int (*child_fn)(void);

/* Runs fn in a child under the policy; returns its wait status. */
static int run_confined(const struct syscall_policy *p, child_fn fn)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (syscall_filter_install(p, SYSCALL_FILTER_ENFORCE) != 0)
			_exit(CHILD_NO_FILTER);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_exit_ok(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
}

static void assert_killed_by_filter(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* ---- what the auxiliary needs ---- */

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	got_usr1 = sig;
}

static int raise_to_itself(void)
{
	signal(SIGUSR1, on_usr1);
	return raise(SIGUSR1) == 0 && got_usr1 == SIGUSR1 ? CHILD_OK : CHILD_WRONG;
}

static void auxiliary_keeps_what_it_uses(void **state)
{
	assert_exit_ok(run_confined(&aux_syscall_policy, raise_to_itself));
}

/* socketpair is refused under the filter, so the pair comes from before it. */
static int sv_before[2] = {-1, -1};

static int ioctls_on_inherited_socket(void)
{
	int on = 1;

	return ioctl(sv_before[0], FIONBIO, &on) == 0 && ioctl(sv_before[0], FIOCLEX) == 0 &&
		       ioctl(sv_before[0], FIONCLEX) == 0 ? CHILD_OK : CHILD_WRONG;
}

static void auxiliary_may_set_nonblocking_and_cloexec(void **state)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv_before), 0);
	assert_exit_ok(run_confined(&aux_syscall_policy, ioctls_on_inherited_socket));
	close(sv_before[0]);
	close(sv_before[1]);
}

/* ---- what it must not do ---- */

static int inject_into_terminal(void)
{
	char c = 'x';

	ioctl(STDIN_FILENO, TIOCSTI, &c);
	return CHILD_WRONG;  /* not reached */
}

static int change_an_interface(void)
{
	ioctl(STDIN_FILENO, SIOCSIFFLAGS, NULL);
	return CHILD_WRONG;
}

static int signal_another_process(void)
{
	pid_t parent = getppid();

	/* Signal 0: should the filter fail, nothing is delivered to the test. */
	syscall(SYS_tgkill, parent, parent, 0);
	return CHILD_WRONG;
}

static int open_a_socket(void)
{
	errno = 0;
	return socket(AF_INET, SOCK_DGRAM, 0) == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static int kill_another_process(void)
{
	errno = 0;
	return kill(getppid(), 0) == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static int start_a_program(void)
{
	char *argv[] = {"true", NULL}, *envp[] = {NULL};

	errno = 0;
	execve("/bin/true", argv, envp);
	return errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static void auxiliary_dies_on_a_forbidden_ioctl(void **state)
{
	assert_killed_by_filter(run_confined(&aux_syscall_policy, inject_into_terminal));
	assert_killed_by_filter(run_confined(&aux_syscall_policy, change_an_interface));
}

static void auxiliary_dies_signalling_another_process(void **state)
{
	assert_killed_by_filter(run_confined(&aux_syscall_policy, signal_another_process));
}

static void auxiliary_cannot_open_kill_or_exec(void **state)
{
	assert_exit_ok(run_confined(&aux_syscall_policy, open_a_socket));
	assert_exit_ok(run_confined(&aux_syscall_policy, kill_another_process));
	assert_exit_ok(run_confined(&aux_syscall_policy, start_a_program));
}

/* ---- the daemons ---- */

static int thread_arg;

static void *thread_body(void *arg)
{
	return arg;
}

static int start_a_thread(void)
{
	pthread_t t;
	void *back = NULL;

	if (pthread_create(&t, NULL, thread_body, &thread_arg) != 0 ||
	    pthread_join(t, &back) != 0)
		return CHILD_WRONG;
	return back == &thread_arg ? CHILD_OK : CHILD_WRONG;
}

static int start_a_process(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0)
		_exit(0);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? CHILD_OK
									     : CHILD_WRONG;
}

#ifndef UNDER_SANITIZER
static int child_in_new_namespace(void *arg)
{
	return 0;
}

static int enter_a_new_network_namespace(void)
{
	static char stack[16384] __attribute__((aligned(16)));

	errno = 0;
	return clone(child_in_new_namespace, stack + sizeof stack, CLONE_NEWNET | SIGCHLD,
		     NULL) == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}
#endif

static int open_internet_and_netlink_sockets(void)
{
	int udp = socket(AF_INET6, SOCK_DGRAM, 0), nl = socket(AF_NETLINK, SOCK_RAW, 0);

	return udp >= 0 && nl >= 0 ? CHILD_OK : CHILD_WRONG;
}

static int open_an_internet_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? CHILD_OK : CHILD_WRONG;
}

static int open_a_packet_socket(void)
{
	errno = 0;
	return socket(AF_PACKET, SOCK_RAW, 0) == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static int inject_into_terminal_fails(void)
{
	char c = 'x';

	errno = 0;
	return ioctl(STDIN_FILENO, TIOCSTI, &c) == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static int signal_another_process_fails(void)
{
	pid_t parent = getppid();

	errno = 0;
	return syscall(SYS_tgkill, parent, parent, 0) == -1 && errno == EPERM ? CHILD_OK
									       : CHILD_WRONG;
}

#ifndef UNDER_SANITIZER
static int start_a_process_fails(void)
{
	errno = 0;
	return fork() == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}
#endif

static int open_raw_and_netfilter_sockets(void)
{
	int raw, nf;

	errno = 0;
	raw = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (raw != -1 || errno != EPERM)
		return CHILD_WRONG;
	nf = socket(AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER);
	return nf == -1 && errno == EPERM ? CHILD_OK : CHILD_WRONG;
}

static int mount_something(void)
{
	errno = 0;
	return mount("none", "/mnt", "tmpfs", 0, NULL) == -1 && errno == EPERM ? CHILD_OK
										: CHILD_WRONG;
}

#ifndef UNDER_SANITIZER
static int change_memory_map_names(void)
{
	errno = 0;
	return prctl(PR_SET_MM, PR_SET_MM_START_CODE, 0, 0, 0) == -1 && errno == EPERM
		       ? CHILD_OK : CHILD_WRONG;
}
#endif

static void principal_runs_threads_but_no_process_or_program(void **state)
{
	assert_exit_ok(run_confined(&principal_syscall_policy, start_a_thread));
	assert_exit_ok(run_confined(&principal_syscall_policy, open_an_internet_socket));
	assert_exit_ok(run_confined(&principal_syscall_policy, start_a_program));
	assert_exit_ok(run_confined(&principal_syscall_policy, mount_something));
	assert_exit_ok(run_confined(&principal_syscall_policy, open_a_packet_socket));
	assert_exit_ok(run_confined(&principal_syscall_policy, open_raw_and_netfilter_sockets));
	assert_exit_ok(run_confined(&principal_syscall_policy, inject_into_terminal_fails));
	assert_exit_ok(run_confined(&principal_syscall_policy, signal_another_process_fails));
#ifndef UNDER_SANITIZER
	assert_exit_ok(run_confined(&principal_syscall_policy, start_a_process_fails));
#endif
}

static void secondary_starts_processes_within_bounds(void **state)
{
	assert_exit_ok(run_confined(&secondary_syscall_policy, start_a_thread));
	assert_exit_ok(run_confined(&secondary_syscall_policy, start_a_process));
	assert_exit_ok(run_confined(&secondary_syscall_policy,
				    open_internet_and_netlink_sockets));
	assert_exit_ok(run_confined(&secondary_syscall_policy, mount_something));
	assert_exit_ok(run_confined(&secondary_syscall_policy, open_a_packet_socket));
	assert_exit_ok(run_confined(&secondary_syscall_policy, open_raw_and_netfilter_sockets));
	assert_exit_ok(run_confined(&secondary_syscall_policy, inject_into_terminal_fails));
#ifndef UNDER_SANITIZER
	assert_exit_ok(run_confined(&secondary_syscall_policy, change_memory_map_names));
	assert_exit_ok(run_confined(&secondary_syscall_policy, enter_a_new_network_namespace));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(auxiliary_keeps_what_it_uses),
		cmocka_unit_test(auxiliary_may_set_nonblocking_and_cloexec),
		cmocka_unit_test(auxiliary_dies_on_a_forbidden_ioctl),
		cmocka_unit_test(auxiliary_dies_signalling_another_process),
		cmocka_unit_test(auxiliary_cannot_open_kill_or_exec),
		cmocka_unit_test(principal_runs_threads_but_no_process_or_program),
		cmocka_unit_test(secondary_starts_processes_within_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
