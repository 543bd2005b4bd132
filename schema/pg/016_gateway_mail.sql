-- 016_gateway_mail on PostgreSQL (the common step's table with an identity column); the
-- principals also wake each other with NOTIFY insel_gateway_mail (principal/mailbox.c).
CREATE TABLE gateway_mail (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	secondary text NOT NULL,
	body text NOT NULL,
	sender text NOT NULL,
	delivered_by text,
	created_at bigint NOT NULL
);
CREATE INDEX gateway_mail_waiting ON gateway_mail (delivered_by, secondary);
CREATE INDEX gateway_mail_sender ON gateway_mail (sender, delivered_by);
CREATE INDEX gateway_mail_age ON gateway_mail (created_at);
