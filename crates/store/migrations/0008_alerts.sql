-- Alerts on production behaviour and each project's alert settings. Kept in the
-- registry (not the event store) because firing or resolving an alert appends an audit
-- event in the same transaction — that is how it reaches webhooks — and settings
-- changes are audited like every other change. Same plain SQL for SQLite and PostgreSQL.

-- One alert. `measured` is a JSON object of the figures that made it fire. At most one
-- alert per (project, prompt, environment, version, kind) is firing at a time.
CREATE TABLE alerts (
    id                BIGINT PRIMARY KEY,
    project           TEXT NOT NULL REFERENCES projects (name),
    prompt_id         TEXT NOT NULL,
    environment       TEXT NOT NULL,
    version           TEXT NOT NULL,
    baseline_version  TEXT,
    kind              TEXT NOT NULL,
    state             TEXT NOT NULL,
    fired_at          TEXT NOT NULL,
    resolved_at       TEXT,
    measured          TEXT NOT NULL,
    test              TEXT,
    p_value           DOUBLE PRECISION,
    summary           TEXT NOT NULL,
    resolution        TEXT
);
CREATE UNIQUE INDEX alerts_one_firing
    ON alerts (project, prompt_id, environment, version, kind) WHERE state = 'firing';
CREATE INDEX alerts_by_project ON alerts (project, id);

-- A project's alert settings as JSON (`AlertSettings`); absent: the defaults.
CREATE TABLE alert_settings (
    project     TEXT PRIMARY KEY REFERENCES projects (name),
    settings    TEXT NOT NULL,
    updated_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
