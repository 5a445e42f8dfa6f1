-- The registry's tables. Plain SQL that SQLite and PostgreSQL both read as written:
-- TEXT, BIGINT and DOUBLE PRECISION only; timestamps are RFC 3339 UTC text; JSON is
-- stored as its text. Row ids are given by the store under its write lock, so there
-- is no AUTOINCREMENT/BIGSERIAL dialect to care about.

CREATE TABLE projects (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

-- The ordered environments of a project (dev, staging, prod by default).
CREATE TABLE environments (
    project     TEXT NOT NULL REFERENCES projects (name),
    name        TEXT NOT NULL,
    position    BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);

-- prompt_key is the id in its comparable form (`_` and `-` are one character).
CREATE TABLE prompts (
    project     TEXT NOT NULL REFERENCES projects (name),
    prompt_key  TEXT NOT NULL,
    id          TEXT NOT NULL,
    module      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (project, prompt_key)
);

-- Immutable versions: ordinal is the publish order, which is also semver order.
CREATE TABLE versions (
    project       TEXT NOT NULL,
    prompt_key    TEXT NOT NULL,
    version       TEXT NOT NULL,
    ordinal       BIGINT NOT NULL,
    content_hash  TEXT NOT NULL,
    content       TEXT NOT NULL,
    source        TEXT NOT NULL,
    parent        TEXT,
    author        TEXT NOT NULL,
    changelog     TEXT,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (project, prompt_key, version),
    UNIQUE (project, prompt_key, content_hash),
    UNIQUE (project, prompt_key, ordinal),
    FOREIGN KEY (project, prompt_key) REFERENCES prompts (project, prompt_key)
);

-- Where each environment's label points now.
CREATE TABLE labels (
    project      TEXT NOT NULL,
    prompt_key   TEXT NOT NULL,
    environment  TEXT NOT NULL,
    version      TEXT NOT NULL,
    move_id      BIGINT NOT NULL,
    PRIMARY KEY (project, prompt_key, environment),
    FOREIGN KEY (project, prompt_key, version) REFERENCES versions (project, prompt_key, version)
);

-- Every move of every label, kept for ever.
CREATE TABLE label_moves (
    id            BIGINT PRIMARY KEY,
    project       TEXT NOT NULL,
    prompt_key    TEXT NOT NULL,
    environment   TEXT NOT NULL,
    from_version  TEXT,
    to_version    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT,
    moved_at      TEXT NOT NULL,
    FOREIGN KEY (project, prompt_key, to_version) REFERENCES versions (project, prompt_key, version)
);
CREATE INDEX label_moves_by_prompt ON label_moves (project, prompt_key, environment, id);

-- Eval runs attached to the version they tested: the summary and the full report.
CREATE TABLE eval_runs (
    id           BIGINT PRIMARY KEY,
    project      TEXT NOT NULL,
    prompt_key   TEXT NOT NULL,
    version      TEXT NOT NULL,
    passed       BIGINT NOT NULL,
    failed       BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    summary      TEXT NOT NULL,
    report       TEXT,
    actor        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    FOREIGN KEY (project, prompt_key, version) REFERENCES versions (project, prompt_key, version)
);
CREATE INDEX eval_runs_by_version ON eval_runs (project, prompt_key, version, id);

-- The hash-chained audit log. Append-only: each backend adds triggers that refuse
-- UPDATE and DELETE (see the backend's own migration).
CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY,
    at         TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
