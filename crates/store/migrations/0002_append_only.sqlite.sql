-- SQLite: versions, label moves and audit events are never updated or deleted.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER versions_no_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE TRIGGER versions_no_delete BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'versions are immutable'); END;
CREATE TRIGGER label_moves_no_update BEFORE UPDATE ON label_moves
BEGIN SELECT RAISE(ABORT, 'label_moves is append-only'); END;
CREATE TRIGGER label_moves_no_delete BEFORE DELETE ON label_moves
BEGIN SELECT RAISE(ABORT, 'label_moves is append-only'); END;
