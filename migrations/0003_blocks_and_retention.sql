-- Client blocks belong to the overseer who made them (issue: a previous overseer's block broke
-- the next overseer's block). The key was (agent_id, client_id), so after a re-claim the new
-- overseer's block of the same client hit the old row: 409, nothing written, no grant revoked,
-- while the old row was listed but never enforced (enforcement joins the agent's *active*
-- oversight on overseer_id).
--
-- Now the key is (overseer_id, agent_id, client_id). Existing rows keep the overseer_id they
-- were written with, so each stays with its author: enforced again if that overseer oversees
-- the agent again, never listed to or removable by anybody else.

CREATE TABLE client_blocks_new (
  overseer_id TEXT NOT NULL REFERENCES overseers(id) ON DELETE CASCADE,
  agent_id    TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  client_id   TEXT NOT NULL REFERENCES oauth_clients(id) ON DELETE CASCADE,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (overseer_id, agent_id, client_id)
);

INSERT INTO client_blocks_new (overseer_id, agent_id, client_id, created_at)
  SELECT overseer_id, agent_id, client_id, created_at FROM client_blocks;

DROP TABLE client_blocks;
ALTER TABLE client_blocks_new RENAME TO client_blocks;

-- Enforcement looks blocks up by (agent, client) at authorize, token and userinfo.
CREATE INDEX idx_client_blocks_agent_client ON client_blocks(agent_id, client_id);

-- Retention (cron step 3): dead grant families and OAuth request history are purged by age, a
-- bounded number of rows per run; these indexes let each run find them without a table scan.
CREATE INDEX idx_grants_revoked   ON oauth_grants(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX idx_grants_last_used ON oauth_grants(last_used_at);
CREATE INDEX idx_oauth_requests_created ON oauth_requests(created_at);
