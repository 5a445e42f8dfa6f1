-- What the web UI filters the audit log by: an actor's events, a target's events,
-- newest first, without scanning the whole chain.
CREATE INDEX audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_by_target ON audit_events (target, seq);
CREATE INDEX audit_events_by_action ON audit_events (action, seq);
