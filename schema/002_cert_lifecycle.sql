-- 002_cert_lifecycle: certificate expiry and renewal run from the principal.
--
-- The principal warns ahead of every expiry it knows of (the CA, its own certificate and
-- each secondary's) and renews secondaries' certificates: a secondary sends a certificate
-- request for a key it made; the principal issues it at once with its online issuing key
-- or queues it for `insel-principal pki approve`. Issuing and recording the new
-- certificate as the secondary's are one transaction.
--
--   sqlite3 /var/lib/insel/principal.db 'SELECT * FROM cert_expiry'
--   sqlite3 /var/lib/insel/principal.db "SELECT * FROM cert_requests WHERE state = 'pending'"

-- secondaries, renewal columns:
--   not_after             expiry of the certificate in `fingerprint` (NULL: not yet seen)
--   previous_fingerprint  the certificate it was renewed from; peers accept it too while
--   previous_serial       the secondary switches over, until it registers with the new
--   previous_not_after    one (or the old one expires)
ALTER TABLE secondaries ADD COLUMN not_after INTEGER;
ALTER TABLE secondaries ADD COLUMN previous_fingerprint TEXT;
ALTER TABLE secondaries ADD COLUMN previous_serial TEXT;
ALTER TABLE secondaries ADD COLUMN previous_not_after INTEGER;

-- cert_requests: one row per key a secondary asked a certificate for.
--   key_id          SHA-256 of the request's public key (lowercase hex): asking again
--                   with the same key finds the same row
--   csr             the PKCS#10 request (PEM), as checked on arrival
--   requested_with  fingerprint, serial and expiry of the certificate the secondary was
--   ..._serial      using when it asked (what peers keep accepting during the switch)
--   ..._not_after
--   state           'pending' (waiting for `pki approve`), 'issued', 'rejected'
--                   (`pki reject`), 'superseded' (a newer request from the same secondary)
--   certificate     the issued certificate (PEM); serial, fingerprint, not_after its own
--   issued_by       'online' (the principal's issuing key) or 'operator' (pki approve)
CREATE TABLE cert_requests (
	id                       INTEGER PRIMARY KEY,
	secondary_id             INTEGER NOT NULL REFERENCES secondaries(id) ON DELETE CASCADE,
	key_id                   TEXT NOT NULL,
	csr                      TEXT NOT NULL,
	requested_with           TEXT NOT NULL,
	requested_with_serial    TEXT NOT NULL,
	requested_with_not_after INTEGER NOT NULL,
	state                    TEXT NOT NULL DEFAULT 'pending'
				 CHECK (state IN ('pending', 'issued', 'rejected', 'superseded')),
	certificate              TEXT,
	serial                   TEXT,
	fingerprint              TEXT,
	not_after                INTEGER,
	issued_by                TEXT CHECK (issued_by IN ('online', 'operator')),
	created_at               INTEGER NOT NULL,
	decided_at               INTEGER,
	UNIQUE (secondary_id, key_id)
);
CREATE INDEX cert_requests_pending ON cert_requests(secondary_id) WHERE state = 'pending';

-- principal_certs: the CA's and the principal's own certificate, written by the daemon
-- at start so that `insel-principal status` can warn of their expiry too.
CREATE TABLE principal_certs (
	kind        TEXT PRIMARY KEY CHECK (kind IN ('ca', 'principal')),
	name        TEXT NOT NULL,
	serial      TEXT NOT NULL,
	fingerprint TEXT NOT NULL,
	not_before  INTEGER NOT NULL,
	not_after   INTEGER NOT NULL,
	recorded_at INTEGER NOT NULL
);

-- cert_expiry: every certificate expiry the directory knows of, soonest first.
CREATE VIEW cert_expiry AS
SELECT kind AS role, name, serial, datetime(not_after, 'unixepoch') AS expires,
       not_after - CAST(strftime('%s', 'now') AS INTEGER) AS seconds_left
FROM principal_certs
UNION ALL
SELECT 'secondary', name, serial, datetime(not_after, 'unixepoch'),
       not_after - CAST(strftime('%s', 'now') AS INTEGER)
FROM secondaries WHERE not_after IS NOT NULL
ORDER BY seconds_left;
