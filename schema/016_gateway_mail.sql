-- 016_gateway_mail: the principals' mailbox (docs/principals.md, "Messages for a gateway
-- linked to another principal"). A principal that must tell a gateway something (a
-- dial_back notice) while that gateway's link is held by another principal of the same
-- directory leaves it here; whichever principal holds the link claims it (delivered_by,
-- set once: a row is delivered at most once) and sends it; the sender learns of the
-- delivery from delivered_by, deletes the row, and withdraws one nobody claimed in time.
-- Rows older than a minute are swept by any principal: the table stays small.
CREATE TABLE gateway_mail (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	secondary TEXT NOT NULL,
	body TEXT NOT NULL,
	sender TEXT NOT NULL,
	delivered_by TEXT,
	created_at INTEGER NOT NULL
);
CREATE INDEX gateway_mail_waiting ON gateway_mail (delivered_by, secondary);
CREATE INDEX gateway_mail_sender ON gateway_mail (sender, delivered_by);
CREATE INDEX gateway_mail_age ON gateway_mail (created_at);
