/* Confinement of the auxiliary (STYLE.md, "Processes"). At start, with no privilege
 * needed: not dumpable (session keys are in memory) and SIGTERM when the parent dies.
 * After its sockets are bound: if root and a user is named, leave root for good in the
 * fixed order supplementary groups, gid, uid, then prove root cannot be regained, then
 * forbid new privileges, then the syscall allowlist (sandbox.c). A failure at any step
 * is fatal to the caller. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "auxiliary.h"
#include "log.h"

static int set_parent_death_signal(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
		log_error("prctl(PR_SET_PDEATHSIG): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int privdrop_protect_process(void)
{
	if (prctl(PR_SET_DUMPABLE, 0) != 0) {
		log_error("prctl(PR_SET_DUMPABLE): %s", strerror(errno));
		return -errno;
	}
	return set_parent_death_signal();
}

static int fail(const char *step, const char *user)
{
	int err = errno ? -errno : -EPERM;

	log_error("cannot drop privileges to '%s': %s: %s", user, step, strerror(-err));
	return err;
}

static int become_user(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0)
		return fail("setgroups", pw->pw_name);
	if (setgid(pw->pw_gid) != 0)
		return fail("setgid", pw->pw_name);
	if (setuid(pw->pw_uid) != 0)
		return fail("setuid", pw->pw_name);
	/* If any saved id were still 0 this would succeed: then we are not confined. */
	if (pw->pw_uid != 0 && setuid(0) != -1) {
		errno = EPERM;
		return fail("root could be regained", pw->pw_name);
	}
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getegid() != pw->pw_gid) {
		errno = EPERM;
		return fail("identity did not change", pw->pw_name);
	}
	return 0;
}

int privdrop_to_user(const char *user)
{
	const struct passwd *pw;
	int rc;

	if (geteuid() == 0 && user) {
		errno = 0;
		pw = getpwnam(user);
		if (!pw) {
			if (!errno)
				errno = ENOENT;
			return fail("no such user", user);
		}
		if (pw->pw_uid == 0) {
			errno = EPERM;
			return fail("the user is root", user);
		}
		if ((rc = become_user(pw)) != 0)
			return rc;
		log_info("running as user '%s' (uid %u)", user, (unsigned)pw->pw_uid);
	} else if (geteuid() == 0) {
		log_warn("no user given: staying root");
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		errno = errno ? errno : EPERM;
		return fail("prctl(PR_SET_NO_NEW_PRIVS)", user ? user : "(current)");
	}
	/* Changing credentials resets both of these: set them again. */
	if (privdrop_protect_process() != 0)
		return -EPERM;
	return sandbox_enter();
}
