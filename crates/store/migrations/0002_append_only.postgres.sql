-- PostgreSQL: versions, label moves and audit events are never updated or deleted
-- (TRUNCATE included).
CREATE FUNCTION promptops_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION promptops_refuse_change();
CREATE TRIGGER versions_append_only BEFORE UPDATE OR DELETE ON versions
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
CREATE TRIGGER label_moves_append_only BEFORE UPDATE OR DELETE ON label_moves
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
