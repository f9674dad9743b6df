-- agent-id in front of MCP servers and other APIs (issue 10): protected resources (RFC 8707,
-- RFC 9728), public and Client ID Metadata Document clients, Bearer or DPoP tokens per policy,
-- consent by the overseer in the browser, and the refresh grace window.
--
-- Only additive steps: SQLite cannot change a CHECK or a NOT NULL without rebuilding a table,
-- and rebuilding oauth_clients would cascade-delete every grant on D1 (foreign keys are on).
-- The few placeholders this forces are named below and decoded into types in one place each.

-- An API or MCP server an overseer runs and puts agent-id in front of. `uri` is its canonical
-- resource identifier (RFC 8707 §2): the exact `aud` of the tokens issued for it.
CREATE TABLE protected_resources (
  id                       TEXT PRIMARY KEY,
  overseer_id              TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  uri                      TEXT NOT NULL UNIQUE,
  name                     TEXT NOT NULL,
  -- JSON array of {"name", "description"}: the scopes the resource understands.
  scopes                   TEXT NOT NULL,
  dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0,
  access_token_alg         TEXT NOT NULL DEFAULT 'EdDSA' CHECK (access_token_alg IN ('EdDSA', 'ES256')),
  created_at               INTEGER NOT NULL,
  updated_at               INTEGER NOT NULL
);
CREATE INDEX idx_resources_overseer ON protected_resources(overseer_id, created_at);

-- How many resources an overseer's tier lets it register (-1 unlimited).
ALTER TABLE subscription_tiers ADD COLUMN max_resources INTEGER NOT NULL DEFAULT 0;
UPDATE subscription_tiers SET max_resources = CASE tier
  WHEN 'FREE' THEN 1 WHEN 'BASIC' THEN 3 WHEN 'PRO' THEN 10 WHEN 'PREMIUM' THEN -1 WHEN 'SHADOW' THEN 3
  ELSE 0 END;

-- Clients that are not registered through the API.
--   * Public clients (`token_endpoint_auth_method = 'none'`) hold no key: their `public_key` and
--     `key_thumbprint` are '' (the columns are NOT NULL).
--   * A Client ID Metadata Document client is cached here, its `id` being the document's https
--     URL, so that codes, grants and blocks keep their foreign keys. It has no owner: its
--     `owner_type` is 'overseer' and its `owner_id` '' (no overseer has that id, so no pool,
--     listing, limit or erasure ever sees it).
ALTER TABLE oauth_clients ADD COLUMN origin TEXT NOT NULL DEFAULT 'registered'
  CHECK (origin IN ('registered', 'metadata_document'));
-- The validated document as fetched (JSON), and when it was fetched and must be fetched again.
ALTER TABLE oauth_clients ADD COLUMN metadata_document TEXT;
ALTER TABLE oauth_clients ADD COLUMN metadata_fetched_at INTEGER;
ALTER TABLE oauth_clients ADD COLUMN metadata_expires_at INTEGER;
-- A metadata-document client's keys for private_key_jwt: its `jwks` (JSON), or its `jwks_uri`
-- with the set last fetched from it in `jwks`.
ALTER TABLE oauth_clients ADD COLUMN jwks TEXT;
ALTER TABLE oauth_clients ADD COLUMN jwks_uri TEXT;

-- Resource indicators (JSON array of URIs; NULL: none, today's identity tokens) requested at
-- authorize, kept by the code and by the grant it creates.
ALTER TABLE authorization_codes ADD COLUMN resources TEXT;
ALTER TABLE oauth_grants ADD COLUMN resources TEXT;
ALTER TABLE oauth_requests ADD COLUMN resources TEXT;

-- Who approved the request: the agent itself, or its overseer in the browser. Copied from the
-- history row to the code, and from the code to the grant (oauth_grants.consented_by exists).
ALTER TABLE oauth_requests ADD COLUMN consented_by TEXT NOT NULL DEFAULT 'agent'
  CHECK (consented_by IN ('agent', 'overseer'));
ALTER TABLE authorization_codes ADD COLUMN consented_by TEXT NOT NULL DEFAULT 'agent'
  CHECK (consented_by IN ('agent', 'overseer'));

-- The audience of an access token when it is a resource (NULL: the client id). An unbound
-- (Bearer) token's `jkt` is '' (the column is NOT NULL).
ALTER TABLE access_tokens ADD COLUMN aud TEXT;

-- A public client's refresh token is bound to the DPoP key it was issued to (RFC 9449 §5).
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;

-- An agent may forbid its overseer to consent in its name (default: allowed).
ALTER TABLE agents ADD COLUMN overseer_consent INTEGER NOT NULL DEFAULT 1;
