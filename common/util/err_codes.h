/* insel's own error codes, below INSEL_E_BASE; with negative errno values they make the
 * one error space that every libinsel function returns in (err.h). Apart from err.h
 * because the installed Secsockets header (secsock.h) returns them to applications. */
#ifndef INSEL_ERR_CODES_H
#define INSEL_ERR_CODES_H

#define INSEL_E_BASE (-1000)

enum insel_error {
	INSEL_E_TRUNCATED = INSEL_E_BASE - 1,   /* read past the end of a buffer */
	INSEL_E_NOSPACE = INSEL_E_BASE - 2,     /* write past the end or over a hard maximum */
	INSEL_E_TOO_BIG = INSEL_E_BASE - 3,     /* a length over its limit */
	INSEL_E_MALFORMED = INSEL_E_BASE - 4,   /* bytes that do not parse */
	INSEL_E_BAD_JSON = INSEL_E_BASE - 5,    /* a frame whose body is not valid JSON */
	INSEL_E_NOT_OBJECT = INSEL_E_BASE - 6,  /* valid JSON, but not an object */
	INSEL_E_BAD_FIELD = INSEL_E_BASE - 7,   /* a field missing or of the wrong type */
	INSEL_E_BAD_ADDR = INSEL_E_BASE - 8,    /* not an IP address */
	INSEL_E_BAD_PREFIX = INSEL_E_BASE - 9,  /* not a CIDR prefix */
	INSEL_E_HOST_BITS = INSEL_E_BASE - 10,  /* a prefix with bits set past its length */
	INSEL_E_CONFIG = INSEL_E_BASE - 11,     /* a configuration file with an error */
	INSEL_E_CRYPTO = INSEL_E_BASE - 12,     /* a failure inside the crypto library */
	INSEL_E_AUTH = INSEL_E_BASE - 13,       /* authentication failed */
	INSEL_E_REPLAY = INSEL_E_BASE - 14,     /* a counter already seen or too old */
	INSEL_E_CLOSED = INSEL_E_BASE - 15,     /* the peer or the channel is gone */
	INSEL_E_PROTOCOL = INSEL_E_BASE - 16,   /* a peer broke the protocol */
	INSEL_E_NOT_FOUND = INSEL_E_BASE - 17,  /* no such thing */
	INSEL_E_EXISTS = INSEL_E_BASE - 18,     /* already there */
	INSEL_E_CONFLICT = INSEL_E_BASE - 19,   /* clashes with something already there */
	INSEL_E_DB = INSEL_E_BASE - 20,         /* the directory database failed */
	INSEL_E_TIMEOUT = INSEL_E_BASE - 21,    /* no answer in time */
	INSEL_E_REFUSED = INSEL_E_BASE - 22,    /* the peer said no */
	INSEL_E_LIMIT = INSEL_E_BASE - 23,      /* a configured limit was reached */
	INSEL_E_VERIFY = INSEL_E_BASE - 24,     /* a certificate did not verify */
	INSEL_E_NO_COMMON = INSEL_E_BASE - 25,  /* negotiation found no common choice */
	INSEL_E_UNAVAILABLE = INSEL_E_BASE - 26, /* nobody serves it right now */
	INSEL_E_FORBIDDEN = INSEL_E_BASE - 27,  /* this peer's role may not do that */
	INSEL_E_UNKNOWN_OP = INSEL_E_BASE - 28, /* a request whose op nobody handles */
	INSEL_E_VERSION = INSEL_E_BASE - 29,    /* a protocol or schema version not supported */
	INSEL_E_BUSY = INSEL_E_BASE - 30,       /* too many attempts: wait, then try again */
	INSEL_E_RESET = INSEL_E_BASE - 31,      /* the peer aborted a reliable connection */
	INSEL_E_PEER_GONE = INSEL_E_BASE - 32,  /* the peer of a reliable connection went silent */
	INSEL_E_DB_DOWN = INSEL_E_BASE - 33,    /* the directory's database cannot be reached now */
	INSEL_E_LAST = INSEL_E_BASE - 34,
};

#endif
