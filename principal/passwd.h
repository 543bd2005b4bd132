/* Password hashes for the directory: PBKDF2-HMAC-SHA256 (GnuTLS), a random 16-byte salt
 * and the iteration count stored in the hash string, so that the count can be raised
 * later without breaking older hashes:
 *
 *   pbkdf2-sha256$ITERATIONS$SALT_HEX$KEY_HEX
 *
 * Verification recomputes the key and compares it in constant time. Hashing is slow on
 * purpose (tens to hundreds of milliseconds): a daemon runs it off its event loop. */
#ifndef INSEL_PASSWD_H
#define INSEL_PASSWD_H

#include <stddef.h>

#define PASSWD_SCHEME "pbkdf2-sha256"
#define PASSWD_DEFAULT_ITERATIONS 600000u  /* new hashes; stored ones keep theirs */
#define PASSWD_MIN_ITERATIONS 1000u
#define PASSWD_MAX_ITERATIONS 10000000u
#define PASSWD_SALT_LEN 16
#define PASSWD_KEY_LEN 32
#define PASSWD_MAX_LEN 1024  /* longest password accepted, in bytes */
#define PASSWD_HASH_STRLEN 160

/* Hashes password with a fresh salt into out (PASSWD_HASH_STRLEN bytes is enough).
 * INSEL_E_BAD_FIELD for an empty or over-long password or an iteration count out of
 * range, INSEL_E_CRYPTO if GnuTLS fails. */
int passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen);

/* 0 if password matches stored, INSEL_E_AUTH if not, INSEL_E_MALFORMED if stored is not
 * a hash this code understands. */
int passwd_verify(const char *password, const char *stored);

/* Burns the same time as verifying against a hash with that many iterations, for
 * unknown users, so that timing does not tell which names exist. */
void passwd_verify_dummy(const char *password, unsigned iterations);

#endif
