-- SQLite: red-team reports and compatibility results are never updated or deleted.
CREATE TRIGGER redteam_runs_no_update BEFORE UPDATE ON redteam_runs
BEGIN SELECT RAISE(ABORT, 'redteam_runs is append-only'); END;
CREATE TRIGGER redteam_runs_no_delete BEFORE DELETE ON redteam_runs
BEGIN SELECT RAISE(ABORT, 'redteam_runs is append-only'); END;
CREATE TRIGGER compatibility_results_no_update BEFORE UPDATE ON compatibility_results
BEGIN SELECT RAISE(ABORT, 'compatibility_results is append-only'); END;
CREATE TRIGGER compatibility_results_no_delete BEFORE DELETE ON compatibility_results
BEGIN SELECT RAISE(ABORT, 'compatibility_results is append-only'); END;
