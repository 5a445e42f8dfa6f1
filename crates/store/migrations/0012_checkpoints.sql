-- Signed audit checkpoints: the log's size, head hash and RFC 6962 Merkle root, signed
-- by the server's Ed25519 key (kept outside the database). Checkpoints are not audit
-- events themselves: recording one must not move the head it signs. Append-only: the
-- backend migrations below add the triggers.
CREATE TABLE audit_checkpoints (
    size        BIGINT PRIMARY KEY,
    head        TEXT NOT NULL,
    root        TEXT NOT NULL,
    signed_at   TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL
);
