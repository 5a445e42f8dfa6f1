-- PostgreSQL: red-team reports and compatibility results are never updated or deleted.
CREATE TRIGGER redteam_runs_append_only BEFORE UPDATE OR DELETE ON redteam_runs
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
CREATE TRIGGER compatibility_results_append_only BEFORE UPDATE OR DELETE ON compatibility_results
    FOR EACH ROW EXECUTE FUNCTION promptops_refuse_change();
