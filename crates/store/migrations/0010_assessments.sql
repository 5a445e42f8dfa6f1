-- What is recorded about a version beyond its eval runs (issue 18): red-team reports
-- and compatibility results per model. Both are append-only (the backend's own
-- migration 0011 adds the triggers); the newest row per version (per model) is the one
-- the UI shows and policies read. Same plain SQL for SQLite and PostgreSQL.

-- A red-team report attached to the version it attacked: the summary the server
-- recomputed from the cases, and the whole report as sent.
CREATE TABLE redteam_runs (
    id           BIGINT PRIMARY KEY,
    project      TEXT NOT NULL,
    prompt_key   TEXT NOT NULL,
    version      TEXT NOT NULL,
    provider     TEXT NOT NULL,
    summary      TEXT NOT NULL,
    report       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    via_key      TEXT,
    created_at   TEXT NOT NULL,
    FOREIGN KEY (project, prompt_key, version) REFERENCES versions (project, prompt_key, version)
);
CREATE INDEX redteam_runs_by_version ON redteam_runs (project, prompt_key, version, id);

-- One model's results for a version in a matrix run (`promptops eval --matrix`): the
-- counts, the verdict the server computed from them and the thresholds, the suite run.
CREATE TABLE compatibility_results (
    id           BIGINT PRIMARY KEY,
    project      TEXT NOT NULL,
    prompt_key   TEXT NOT NULL,
    version      TEXT NOT NULL,
    model        TEXT NOT NULL,
    passed       BIGINT NOT NULL,
    failed       BIGINT NOT NULL,
    errors       BIGINT NOT NULL,
    verdict      TEXT NOT NULL,
    thresholds   TEXT NOT NULL,
    suite        TEXT NOT NULL,
    actor        TEXT NOT NULL,
    via_key      TEXT,
    created_at   TEXT NOT NULL,
    FOREIGN KEY (project, prompt_key, version) REFERENCES versions (project, prompt_key, version)
);
CREATE INDEX compatibility_results_by_model
    ON compatibility_results (project, prompt_key, version, model, id);
