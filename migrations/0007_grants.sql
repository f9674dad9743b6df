-- Live grants (issue 12 item 7): an agent and its overseer list the grants an agent has given
-- and revoke them one by one.
--
-- When the consent was given: the approval's time (oauth_requests.created_at), copied into the
-- grant when its code is redeemed, because codes and requests are purged long before a grant
-- ends. NULL for grants redeemed before this migration; they show their redemption time.
ALTER TABLE oauth_grants ADD COLUMN consented_at INTEGER;

-- Who consented. Today only the agent does (authorize with its session or DPoP proof); an
-- overseer consenting for its agent comes later, hence the column.
ALTER TABLE oauth_grants ADD COLUMN consented_by TEXT NOT NULL DEFAULT 'agent'
  CHECK (consented_by IN ('agent', 'overseer'));

-- An agent's unrevoked grants, for the listings (the older index leads with client_id).
CREATE INDEX idx_grants_agent_live ON oauth_grants(agent_id, created_at) WHERE revoked_at IS NULL;
