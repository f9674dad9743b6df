-- Web Bot Auth key directory (issue 14): an agent's previous keys stay listed in its
-- http-message-signatures-directory for an overlap after a rotation, so signatures made just
-- before it still verify. The current key is agents.public_key; this table holds only keys
-- the agent rotated away from. Rotation writes the row in its own batch; the agent can delete
-- it at once (compromise); a deleted agent takes its rows with it.
CREATE TABLE agent_previous_keys (
  agent_id      TEXT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
  -- RFC 7638 thumbprint of the OKP JWK: the directory's kid and the signatures' keyid.
  thumbprint    TEXT NOT NULL,
  public_key    TEXT NOT NULL,
  retired_at    INTEGER NOT NULL,
  -- retired_at + KEY_DIRECTORY_OVERLAP_SECS at the rotation; unlisted from then on.
  listed_until  INTEGER NOT NULL,
  PRIMARY KEY (agent_id, thumbprint)
);
