-- Governance: users, project roles, API keys, per-environment policies, promotion
-- requests and their approvals. Same plain SQL for SQLite and PostgreSQL.

-- Users log in with a password (argon2id PHC string). `teams` is a JSON array of team
-- names (`security`) that approval rules can ask for.
CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    teams          TEXT NOT NULL,
    disabled       BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL
);

-- A user's role in a project; project `*` grants the role in every project (and the
-- server-wide rights: users, audit).
CREATE TABLE memberships (
    project     TEXT NOT NULL,
    user_name   TEXT NOT NULL REFERENCES users (name),
    role        TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    PRIMARY KEY (project, user_name)
);

-- API keys: shown once; only the SHA-256 of the whole key is kept. `prefix` is the
-- public part the key starts with, used to find the row.
CREATE TABLE api_keys (
    prefix        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    owner         TEXT NOT NULL REFERENCES users (name),
    project       TEXT NOT NULL,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT,
    revoked_at    TEXT,
    revoked_by    TEXT,
    last_used_at  TEXT
);

-- Server-wide settings made once (the token signing secret).
CREATE TABLE server_settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Every revision of every environment's policy, kept for ever.
CREATE TABLE policies (
    project       TEXT NOT NULL REFERENCES projects (name),
    environment   TEXT NOT NULL,
    revision      BIGINT NOT NULL,
    source        TEXT NOT NULL,
    source_hash   TEXT NOT NULL,
    author        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (project, environment, revision)
);

-- A promotion that waits for approvals. Status: open, completed, rejected, withdrawn,
-- overridden.
CREATE TABLE promotion_requests (
    id               BIGINT PRIMARY KEY,
    project          TEXT NOT NULL,
    prompt_key       TEXT NOT NULL,
    environment      TEXT NOT NULL,
    version          TEXT NOT NULL,
    requested_by     TEXT NOT NULL,
    requested_at     TEXT NOT NULL,
    reason           TEXT,
    status           TEXT NOT NULL,
    closed_by        TEXT,
    closed_at        TEXT,
    closing_comment  TEXT,
    move_id          BIGINT,
    FOREIGN KEY (project, prompt_key, version) REFERENCES versions (project, prompt_key, version)
);
CREATE INDEX promotion_requests_by_prompt ON promotion_requests (project, prompt_key, environment, status);

-- Approvals and rejections, kept for ever. `checklist` is a JSON array of the items
-- ticked; `role` and `teams` are the decider's at the time.
CREATE TABLE approvals (
    id          BIGINT PRIMARY KEY,
    request_id  BIGINT NOT NULL REFERENCES promotion_requests (id),
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    teams       TEXT NOT NULL,
    decision    TEXT NOT NULL,
    comment     TEXT,
    checklist   TEXT NOT NULL,
    at          TEXT NOT NULL
);

-- A move made by an admin over unmet gates carries its reason (and the gates it
-- overrode, as JSON), so the version and the environment show it for ever.
ALTER TABLE label_moves ADD COLUMN override_reason TEXT;
ALTER TABLE label_moves ADD COLUMN overridden_gates TEXT;
ALTER TABLE label_moves ADD COLUMN request_id BIGINT;
