-- PostgreSQL: checkpoints are never updated or deleted.
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
