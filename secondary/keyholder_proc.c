/* The key holder's life: forked by `insel-secondary run` before the daemon opens any
 * socket or reads any network input, so the process that parses what peers and clients
 * send never reads the private key (OpenSSH's privilege-separation monitor holds its host
 * key the same way). The daemon's TLS credentials carry only the certificate and ask the
 * holder for each handshake's signature (tls_creds_load_signer).
 *
 * The child, in this order: named insel-keyholder; killed with its parent (and gone at
 * once if the parent already is); not dumpable; deaf to the terminal's and the service
 * manager's SIGINT/SIGTERM (it leaves when the daemon closes the socket pair, so an
 * orderly stop never looks like a crash); every descriptor but the socket pair and stderr
 * closed; the key loaded and its directory opened; every capability but those that
 * writing a renewed key needs dropped; no new privileges; then a syscall allowlist. It
 * never opens a socket and never talks to the network.
 *
 * If the holder dies, the daemon says so in the log, refuses every new handshake (it can
 * no longer sign) and keeps the calls it has: their keys live in the auxiliaries. It does
 * not fork a new holder: that child would be a copy of a process that has parsed network
 * input for a while; restarting insel-secondary is the way back. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "keyholder_proc.h"
#include "log.h"
#include "timeouts.h"

#define HOLDER_FD 3

/* ---- confinement ---- */

/* Keeps only what writing a renewed key over a file owned by someone else may need. */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	const uint32_t keep = (1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) | (1u << CAP_FOWNER);

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	data[0].permitted &= keep;
	data[0].effective &= keep;
	data[0].inheritable = 0;
	data[1].permitted = data[1].effective = data[1].inheritable = 0;
	return syscall(SYS_capset, &hdr, data) == 0 ? 0 : -errno;
}

static int allow(scmp_filter_ctx ctx, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	return nr == __NR_SCMP_ERROR ? 0 : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* Calls allowed only on the key file's directory: their first argument (and for a rename
 * the third too) must be its descriptor. */
static int allow_in_dir(scmp_filter_ctx ctx, const char *name, int dirfd, bool two_dirs)
{
	const struct scmp_arg_cmp same_dir[2] = {
		{.arg = 0, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)dirfd, .datum_b = 0},
		{.arg = 2, .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t)dirfd, .datum_b = 0},
	};
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, two_dirs ? 2 : 1, same_dir);
}

static const char *const holder_syscalls[] = {
	/* the socket pair, stderr, and a key file being written */
	"read", "write", "recvfrom", "recvmsg", "sendto", "sendmsg", "close", "fstat",
	"fsync", "fdatasync", "fchown", "fchmod",
	/* memory, randomness for signatures and new keys, time for the log */
	"brk", "mmap", "munmap", "mremap", "madvise", "mprotect", "futex", "getrandom",
	"clock_gettime", "gettimeofday", "time", "getpid", "gettid",
	/* signals and the end */
	"rt_sigreturn", "rt_sigprocmask", "sigaltstack", "restart_syscall", "exit",
	"exit_group",
};

/* INSEL_SECCOMP=off skips the filter, =log only logs what it would refuse (as for the
 * auxiliary). */
static int enter_sandbox(int dirfd)
{
	const char *env = getenv("INSEL_SECCOMP");
	scmp_filter_ctx ctx;
	int rc = 0;

	if (env && strcmp(env, "off") == 0) {
		log_warn("INSEL_SECCOMP=off: the key holder runs without a syscall allowlist");
		return 0;
	}
	ctx = seccomp_init(env && strcmp(env, "log") == 0 ? SCMP_ACT_LOG : SCMP_ACT_ERRNO(EPERM));
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof holder_syscalls / sizeof holder_syscalls[0] && !rc; i++)
		rc = allow(ctx, holder_syscalls[i]);
	if (!rc)
		rc = allow_in_dir(ctx, "openat", dirfd, false);
	if (!rc)
		rc = allow_in_dir(ctx, "newfstatat", dirfd, false);
	if (!rc)
		rc = allow_in_dir(ctx, "unlinkat", dirfd, false);
	if (!rc)
		rc = allow_in_dir(ctx, "renameat", dirfd, true);
	if (!rc)
		rc = allow_in_dir(ctx, "renameat2", dirfd, true);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

/* Before the key is read: no way to be left behind, dumped or interrupted. */
static int detach(pid_t parent, int fd)
{
	int devnull;

	prctl(PR_SET_NAME, "insel-keyholder");
	log_init("insel-keyholder");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		return -EPERM;
	if (prctl(PR_SET_DUMPABLE, 0) != 0)
		return -errno;
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (dup2(fd, HOLDER_FD) != HOLDER_FD)
		return -errno;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) != 0 || dup2(devnull, 1) != 1)
		return -errno;
	return close_range(HOLDER_FD + 1, ~0U, 0) == 0 ? 0 : -errno;
}

static int confine(struct holder *h)
{
	int rc = drop_capabilities();

	if (rc) {
		log_error("cannot drop capabilities: %s", strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		log_error("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return -errno;
	}
	rc = enter_sandbox(h->dirfd);
	if (rc)
		log_error("cannot install the syscall allowlist: %s", strerror(-rc));
	return rc;
}

static void __attribute__((noreturn)) holder_main(pid_t parent, int fd, const char *key_file)
{
	struct holder h;
	char err[512];
	int rc = detach(parent, fd);

	if (rc) {
		log_error("cannot detach the key holder: %s", strerror(-rc));
		_exit(1);
	}
	if (holder_load(&h, key_file, err, sizeof err) != 0) {
		log_error("%s", err);
		_exit(1);
	}
	if (confine(&h) != 0)
		_exit(1);
	log_info("holding the key of %s (pid %ld)", key_file, (long)getpid());
	rc = holder_serve(&h, HOLDER_FD);
	holder_free(&h);
	_exit(rc);
}

/* ---- the daemon's side ---- */

int keyholder_spawn(const char *key_file, struct keyholder *kh, char *err, size_t errlen)
{
	pid_t parent = getpid();
	int sv[2], rc;

	memset(kh, 0, sizeof *kh);
	kh->fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return err_set(err, errlen, -errno, "cannot make the key holder's socket pair: %s",
				  strerror(errno));
	fflush(NULL);  /* nothing buffered may be written twice */
	kh->pid = fork();
	if (kh->pid < 0) {
		rc = -errno;
		close(sv[0]);
		close(sv[1]);
		return err_set(err, errlen, rc, "cannot fork the key holder: %s", strerror(-rc));
	}
	if (kh->pid == 0) {
		close(sv[0]);
		holder_main(parent, sv[1], key_file);
	}
	close(sv[1]);
	kh->fd = sv[0];
	kh->timeout_ms = KEYHOLDER_TIMEOUT_MS;
	rc = keyholder_info(kh, NULL);
	if (rc) {
		keyholder_close(kh);
		return err_set(err, errlen, rc == INSEL_E_REFUSED ? INSEL_E_CONFIG : rc,
				  "the key holder could not serve the key in %s (see its reason "
				  "above)",
				  key_file);
	}
	kh->up = true;
	return 0;
}

static void holder_exited(uv_signal_t *sig, int signum)
{
	struct keyholder *kh = sig->data;
	int status = 0;

	(void)signum;
	if (kh->pid <= 0 || waitpid(kh->pid, &status, WNOHANG) != kh->pid)
		return;
	if (WIFSIGNALED(status))
		log_error("the key holder (pid %ld) was killed by signal %d: new TLS handshakes "
			  "are refused from now on (calls already up go on); restart "
			  "insel-secondary",
			  (long)kh->pid, WTERMSIG(status));
	else
		log_error("the key holder (pid %ld) exited with status %d: new TLS handshakes "
			  "are refused from now on (calls already up go on); restart "
			  "insel-secondary",
			  (long)kh->pid, WEXITSTATUS(status));
	kh->pid = 0;
	kh->gone = true;
}

void keyholder_watch(uv_loop_t *loop, struct keyholder *kh, uv_signal_t *sig)
{
	uv_signal_init(loop, sig);
	sig->data = kh;
	uv_signal_start(sig, holder_exited, SIGCHLD);
	uv_unref((uv_handle_t *)sig);
}
