-- agent-id schema (api.md §3). Times are Unix milliseconds; booleans are 0/1; JSON is TEXT.

CREATE TABLE agents (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  description    TEXT,
  public_key     TEXT NOT NULL UNIQUE,
  session_epoch  INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);

CREATE TABLE overseers (
  id                      TEXT PRIMARY KEY,
  kind                    TEXT NOT NULL CHECK (kind IN ('human','shadow')),
  name                    TEXT,
  email                   TEXT UNIQUE,
  password_hash           TEXT,
  paddle_customer_id      TEXT,
  current_subscription_id TEXT,
  shadow_agent_id         TEXT REFERENCES agents(id) ON DELETE CASCADE,
  session_epoch           INTEGER NOT NULL DEFAULT 0,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL,
  CHECK (kind = 'shadow' OR (name IS NOT NULL AND email IS NOT NULL AND password_hash IS NOT NULL)),
  CHECK (kind = 'human'  OR shadow_agent_id IS NOT NULL)
);
CREATE INDEX idx_overseers_shadow_agent ON overseers(shadow_agent_id);
CREATE INDEX idx_overseers_customer ON overseers(paddle_customer_id);

CREATE TABLE oversights (
  id                      TEXT PRIMARY KEY,
  overseer_id             TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  agent_id                TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  active                  INTEGER NOT NULL CHECK (active IN (0,1)),
  deactivated_reason      TEXT CHECK (deactivated_reason IN ('declaimed','revoked_by_agent',
                            'replaced_by_overseer','subscription_paused','subscription_canceled',
                            'tier_downgrade','shadow_expired')),
  marked_for_cancellation INTEGER NOT NULL DEFAULT 0,
  activated_at            INTEGER NOT NULL,
  deactivated_at          INTEGER,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL,
  UNIQUE (overseer_id, agent_id)
);
CREATE UNIQUE INDEX idx_oversights_one_active ON oversights(agent_id) WHERE active = 1;
CREATE INDEX idx_oversights_overseer ON oversights(overseer_id, active);

CREATE TABLE subscription_tiers (
  tier                 TEXT PRIMARY KEY,
  public_name          TEXT NOT NULL,
  max_agents           INTEGER NOT NULL,
  max_clients          INTEGER NOT NULL,
  max_oauth_per_period INTEGER NOT NULL,
  price_cents          INTEGER NOT NULL,
  currency             TEXT NOT NULL DEFAULT 'USD',
  billing              TEXT NOT NULL CHECK (billing IN ('free','monthly','one_time')),
  validity_days        INTEGER,
  is_hidden            INTEGER NOT NULL DEFAULT 0,
  sort_order           INTEGER NOT NULL
);

CREATE TABLE subscriptions (
  id                      TEXT PRIMARY KEY,
  overseer_id             TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  customer_id             TEXT,
  status                  TEXT NOT NULL,
  price_id                TEXT,
  tier                    TEXT,
  current_period_start    INTEGER,
  current_period_end      INTEGER,
  next_billed_at          INTEGER,
  scheduled_change_action TEXT,
  scheduled_change_at     INTEGER,
  paused_at               INTEGER,
  canceled_at             INTEGER,
  cancel_requested_at     INTEGER,
  cancel_attempts         INTEGER NOT NULL DEFAULT 0,
  last_event_occurred_us  INTEGER NOT NULL,
  created_at              INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL
);
CREATE INDEX idx_subscriptions_overseer ON subscriptions(overseer_id);

CREATE TABLE shadow_payments (
  transaction_id TEXT PRIMARY KEY,
  overseer_id    TEXT NOT NULL REFERENCES overseers(id),
  agent_id       TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  challenge_id   TEXT,
  price_id       TEXT NOT NULL,
  customer_id    TEXT,
  applied        INTEGER NOT NULL,
  paid_at        INTEGER NOT NULL,
  valid_from     INTEGER NOT NULL,
  valid_until    INTEGER NOT NULL,
  created_at     INTEGER NOT NULL
);
CREATE INDEX idx_shadow_payments_overseer ON shadow_payments(overseer_id, valid_until);

CREATE TABLE oauth_clients (
  id                         TEXT PRIMARY KEY,
  owner_type                 TEXT NOT NULL CHECK (owner_type IN ('agent','overseer')),
  owner_id                   TEXT NOT NULL,
  name                       TEXT NOT NULL,
  redirect_uris              TEXT NOT NULL,
  scope                      TEXT,
  public_key                 TEXT NOT NULL,
  key_thumbprint             TEXT NOT NULL,
  token_endpoint_auth_method TEXT NOT NULL DEFAULT 'private_key_jwt',
  application_type           TEXT NOT NULL DEFAULT 'web',
  dpop_bound_access_tokens   INTEGER NOT NULL DEFAULT 0,
  marked_for_cancellation    INTEGER NOT NULL DEFAULT 0,
  disabled                   INTEGER NOT NULL DEFAULT 0,
  disabled_at                INTEGER,
  disabled_reason            TEXT CHECK (disabled_reason IN ('tier_limit','subscription_paused')),
  created_at                 INTEGER NOT NULL,
  updated_at                 INTEGER NOT NULL
);
CREATE INDEX idx_clients_owner ON oauth_clients(owner_type, owner_id, disabled);

CREATE TABLE client_blocks (
  agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  client_id   TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  overseer_id TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, client_id)
);

CREATE TABLE oauth_requests (
  id           TEXT PRIMARY KEY,
  agent_id     TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  client_id    TEXT NOT NULL,
  client_name  TEXT NOT NULL,
  scope        TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('approved','denied')),
  reason       TEXT,
  exchanged_at INTEGER,
  created_at   INTEGER NOT NULL
);
CREATE INDEX idx_oauth_requests_agent_time   ON oauth_requests(agent_id, created_at DESC, id);
CREATE INDEX idx_oauth_requests_agent_status ON oauth_requests(agent_id, status, created_at);

CREATE TABLE authorization_codes (
  id               TEXT PRIMARY KEY,
  code_hash        TEXT NOT NULL UNIQUE,
  client_id        TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  agent_id         TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  redirect_uri     TEXT NOT NULL,
  code_challenge   TEXT NOT NULL,
  scope            TEXT NOT NULL,
  dpop_jkt         TEXT,
  oauth_request_id TEXT,
  expires_at       INTEGER NOT NULL,
  used_at          INTEGER,
  grant_id         TEXT,
  created_at       INTEGER NOT NULL
);
CREATE INDEX idx_codes_expires ON authorization_codes(expires_at);

CREATE TABLE oauth_grants (
  id             TEXT PRIMARY KEY,
  client_id      TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  agent_id       TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  scope          TEXT NOT NULL,
  code_id        TEXT,
  created_at     INTEGER NOT NULL,
  last_used_at   INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT
);
CREATE INDEX idx_grants_client_agent ON oauth_grants(client_id, agent_id);

CREATE TABLE refresh_tokens (
  id          TEXT PRIMARY KEY,
  grant_id    TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  token_hash  TEXT NOT NULL UNIQUE,
  issued_at   INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  rotated_at  INTEGER,
  replaced_by TEXT
);
CREATE INDEX idx_refresh_grant   ON refresh_tokens(grant_id);
CREATE INDEX idx_refresh_expires ON refresh_tokens(expires_at);

CREATE TABLE access_tokens (
  jti        TEXT PRIMARY KEY,
  grant_id   TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL,
  agent_id   TEXT NOT NULL,
  jkt        TEXT NOT NULL,
  scope      TEXT NOT NULL,
  issued_at  INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX idx_access_tokens_expires ON access_tokens(expires_at);

CREATE TABLE revoked_jtis (
  jti        TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL
);

CREATE TABLE jti_markers (
  hash       TEXT PRIMARY KEY,
  kind       TEXT NOT NULL CHECK (kind IN ('dpop','client_assertion')),
  expires_at INTEGER NOT NULL
);
CREATE INDEX idx_jti_markers_expires ON jti_markers(expires_at);

CREATE TABLE session_revocations (
  token_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX idx_session_revocations_expires ON session_revocations(expires_at);

CREATE TABLE webhook_events (
  event_id        TEXT PRIMARY KEY,
  event_type      TEXT NOT NULL,
  notification_id TEXT,
  occurred_at_us  INTEGER,
  outcome         TEXT NOT NULL,
  received_at     INTEGER NOT NULL
);
CREATE INDEX idx_webhook_events_received ON webhook_events(received_at);

CREATE TABLE audit_events (
  id           TEXT PRIMARY KEY,
  type         TEXT NOT NULL,
  actor_type   TEXT NOT NULL,
  actor_id     TEXT,
  subject_type TEXT,
  subject_id   TEXT,
  overseer_id  TEXT,
  agent_id     TEXT,
  client_id    TEXT,
  ip           TEXT,
  request_id   TEXT,
  details      TEXT NOT NULL DEFAULT '{}',
  created_at   INTEGER NOT NULL
);
CREATE INDEX idx_audit_overseer_time ON audit_events(overseer_id, created_at DESC, id);
CREATE INDEX idx_audit_time          ON audit_events(created_at);

CREATE TABLE batch_guards (ok INTEGER NOT NULL CHECK (ok = 1));
