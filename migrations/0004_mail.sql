-- Outgoing e-mail (issue 12): an outbox written in the same batch as the change that causes the
-- message, so a message exists exactly when its change committed. The send runs after the
-- response; the cron job retries what is still pending and gives up with an audit row.
--
-- The bodies may hold a one-time link: they are blanked as soon as the message is sent or given
-- up, so a database read shows at most the links of messages still in flight.
CREATE TABLE mail_outbox (
  id              TEXT PRIMARY KEY,
  kind            TEXT NOT NULL,
  overseer_id     TEXT REFERENCES overseers(id) ON DELETE SET NULL,
  recipient       TEXT NOT NULL,
  subject         TEXT NOT NULL,
  body_text       TEXT NOT NULL,
  body_html       TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending','sent','failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER
);
-- The cron job's retry step: pending messages due now, oldest first.
CREATE INDEX idx_mail_outbox_pending ON mail_outbox(next_attempt_at) WHERE status = 'pending';
CREATE INDEX idx_mail_outbox_overseer ON mail_outbox(overseer_id);

-- When the overseer proved the address it has now (NULL: not verified). Cleared by whoever
-- changes the address.
ALTER TABLE overseers ADD COLUMN email_verified_at INTEGER;

-- One-time tokens sent by e-mail: only their SHA-256 is stored. A token is bound to the
-- address it was sent to, so a token for an address the account no longer has is refused.
-- `used_by` is the request that used it, so the rest of that request's batch can be guarded on
-- "this request consumed the token".
CREATE TABLE overseer_tokens (
  token_hash  TEXT PRIMARY KEY,
  purpose     TEXT NOT NULL CHECK (purpose IN ('email_verification','password_reset','email_change')),
  overseer_id TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  email       TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER,
  used_by     TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX idx_overseer_tokens_overseer ON overseer_tokens(overseer_id, purpose);
CREATE INDEX idx_overseer_tokens_expires ON overseer_tokens(expires_at);
