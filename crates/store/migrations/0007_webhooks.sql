-- Outbound webhooks: subscriptions per project, the deliveries owed to them, and the
-- attempts made. Same plain SQL for SQLite and PostgreSQL.

-- A subscription. `secret_sealed` is the signing secret encrypted by the server
-- (AES-256-GCM under a key derived from its signing secret, which never lives in the
-- database): the database alone cannot sign or read it. `after_seq` is the audit
-- sequence number of its own creation: it receives changes committed after that.
CREATE TABLE webhooks (
    id             TEXT PRIMARY KEY,
    project        TEXT NOT NULL REFERENCES projects (name),
    url            TEXT NOT NULL,
    events         TEXT NOT NULL,
    description    TEXT,
    secret_sealed  TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    after_seq      BIGINT NOT NULL
);
CREATE INDEX webhooks_by_project ON webhooks (project);

-- One event owed to one subscription. `body` is the exact JSON sent on every attempt;
-- `next_attempt_ms` (unix milliseconds) is when a pending one is due; `lease_until_ms`
-- keeps two replicas from sending the same attempt.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL,
    test             BIGINT NOT NULL DEFAULT 0,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    next_attempt_ms  BIGINT,
    lease_until_ms   BIGINT,
    delivered_at     TEXT,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, created_at);

CREATE TABLE webhook_attempts (
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt      BIGINT NOT NULL,
    at           TEXT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    duration_ms  BIGINT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

-- How far the dispatcher has read the change feed (one row).
CREATE TABLE webhook_feed (
    id   BIGINT PRIMARY KEY,
    seq  BIGINT NOT NULL
);
