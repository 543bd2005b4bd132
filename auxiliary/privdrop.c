/* Confinement of the auxiliary (docs/security.md, "Processes"). At start, with no privilege
 * needed: not dumpable (session keys are in memory) and SIGTERM when the parent dies.
 * After its sockets are bound: if root, leave root for good for the call's own uid (one
 * per call, from the secondary's range, so that no other call's auxiliary can signal or
 * trace this one) or a named user, in the fixed order supplementary groups, gid, uid,
 * then prove root cannot be regained, then forbid new privileges, then the syscall
 * allowlist (sandbox.c). Not root (a secondary run without it): the identity stays, and
 * the last two steps, which need no privilege, are taken all the same. A failure at any
 * step is fatal to the caller. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
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

static int become(uid_t uid, gid_t gid, const char *name)
{
	if (uid == 0) {
		errno = EPERM;
		return fail("the user is root", name);
	}
	if (setgroups(0, NULL) != 0)
		return fail("setgroups", name);
	if (setgid(gid) != 0)
		return fail("setgid", name);
	if (setuid(uid) != 0)
		return fail("setuid", name);
	/* If any saved id were still 0 this would succeed: then we are not confined. */
	if (setuid(0) != -1) {
		errno = EPERM;
		return fail("root could be regained", name);
	}
	if (getuid() != uid || geteuid() != uid || getegid() != gid) {
		errno = EPERM;
		return fail("identity did not change", name);
	}
	return 0;
}

static int become_user(const char *user)
{
	const struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		if (!errno)
			errno = ENOENT;
		return fail("no such user", user);
	}
	if (become(pw->pw_uid, pw->pw_gid, user) != 0)
		return -EPERM;
	log_info("running as user '%s' (uid %u)", user, (unsigned)pw->pw_uid);
	return 0;
}

static int become_uid(uint32_t uid)
{
	char name[24];

	snprintf(name, sizeof name, "uid %u", (unsigned)uid);
	if (uid == (uint32_t)-1)  /* -1 means "unchanged" to setuid */
		return fail("not a uid", name);
	if (become((uid_t)uid, (gid_t)uid, name) != 0)
		return -EPERM;
	log_info("running as uid %u, gid %u", (unsigned)uid, (unsigned)uid);
	return 0;
}

/* Not root: no identity to leave, and none to take (the secondary, unprivileged too, asks
 * for none; an identity asked for is said to be ignored). */
static void keep_identity(const struct aux_identity *who)
{
	if (who->user)
		log_warn("asked to become user '%s', but not root: staying uid %u", who->user,
			 (unsigned)geteuid());
	else if (who->has_uid)
		log_warn("asked to become uid %u, but not root: staying uid %u",
			 (unsigned)who->uid, (unsigned)geteuid());
	else
		log_info("not root: running as uid %u, gid %u, confined all the same (no new "
			 "privileges, syscall allowlist)", (unsigned)geteuid(), (unsigned)getegid());
}

int privdrop_confine(const struct aux_identity *who)
{
	const char *name = who->user ? who->user : "(current)";
	int rc = 0;

	if (geteuid() == 0 && who->has_uid)
		rc = become_uid(who->uid);
	else if (geteuid() == 0 && who->user)
		rc = become_user(who->user);
	else if (geteuid() == 0)
		log_warn("no uid or user given: staying root");
	else
		keep_identity(who);
	if (rc)
		return rc;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		errno = errno ? errno : EPERM;
		return fail("prctl(PR_SET_NO_NEW_PRIVS)", name);
	}
	/* Changing credentials resets both of these: set them again. */
	if (privdrop_protect_process() != 0)
		return -EPERM;
	return sandbox_enter();
}
