-- Hardening: login sessions that can be ended, CI keys, and eval runs whose gated
-- figures the server measured. Same plain SQL for SQLite and PostgreSQL.

-- One row per login. The refresh token in use is known only by the SHA-256 of its id
-- (`refresh_hash`); a refresh token presented after it was traded in ends the session
-- (reuse means it was stolen). Access tokens name their session and die with it.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL REFERENCES users (name),
    created_at    TEXT NOT NULL,
    refreshed_at  TEXT NOT NULL,
    refresh_hash  TEXT NOT NULL,
    ended_at      TEXT,
    ended_reason  TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_name, ended_at);

-- A key made for CI (`promptops key create --ci`): policies may count only eval runs
-- attached with one (`evals: {attached_by: ci}`).
ALTER TABLE api_keys ADD COLUMN ci BIGINT NOT NULL DEFAULT 0;
-- Why a key stopped working when it was not revoked by hand (`user disabled`).
ALTER TABLE api_keys ADD COLUMN revoked_reason TEXT;

-- Who attached an eval run and how: the key's prefix (NULL: a session) and whether it
-- was a CI key; `measured` is what the server derived from the run's rows (JSON:
-- rows, calls, cost_per_call_usd, p95_latency_ms), the only figures gates read.
ALTER TABLE eval_runs ADD COLUMN via_key TEXT;
ALTER TABLE eval_runs ADD COLUMN ci_key BIGINT NOT NULL DEFAULT 0;
ALTER TABLE eval_runs ADD COLUMN measured TEXT;
