-- Account settings (issue 12, item 4): the overseer sessions index and the tombstone flag of
-- deleted accounts. (E-mail changes awaiting their link are `overseer_tokens` rows of purpose
-- `email_change`, 0004.)

-- One row per live overseer session, written in the log-in / sign-up batch. KV keeps the
-- session record (`sess:<hash>`); this row is what lists it and what keeps it alive: the
-- session check refuses a session whose row is gone, so ending one is a DELETE here.
-- `id` is the public handle of the session (the token hash never leaves the server); `epoch` is
-- the account's session epoch at log-in, so a session ended by an epoch bump (a password reset)
-- is no longer listed.
CREATE TABLE overseer_sessions (
  id          TEXT PRIMARY KEY,
  token_hash  TEXT NOT NULL UNIQUE,
  overseer_id TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  user_agent  TEXT,
  ip          TEXT,
  epoch       INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL
);
CREATE INDEX idx_overseer_sessions_overseer ON overseer_sessions(overseer_id, created_at DESC);
CREATE INDEX idx_overseer_sessions_expires ON overseer_sessions(expires_at);

-- A deleted account's kept records (subscriptions, audit rows) point at a tombstone overseer
-- with a fresh id, no name, no usable e-mail and no password; it can never sign in.
ALTER TABLE overseers ADD COLUMN deleted_at INTEGER;
