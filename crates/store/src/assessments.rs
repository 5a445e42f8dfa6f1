//! What is recorded about a version beyond its eval runs: red-team reports and
//! compatibility results per model (migration `0010_assessments.sql`). Both are
//! append-only; the newest red-team run of a version and the newest result per model
//! are what the UI shows and what policies read ([`policy_facts`]).
//!
//! Nothing a client sends is taken on trust: a report's summary is recomputed from its
//! cases ([`RedteamReport::check`]) and a verdict from its counts and thresholds
//! ([`CompatibilityThresholds::verdict`]); a disagreement is refused, not corrected.

use crate::engine::{IdTable, SqlStore, WriteTx, append_audit, from_json, get, next_id, to_u64};
use crate::error::{Result, StoreError};
use crate::interface::Assessments;
use crate::model::Actor;
use promptops_api::*;
use promptops_core::clock::now_rfc3339;
use promptops_core::prompt::id::{comparable, same_id};
use serde_json::{Value as Json, json};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, BTreeSet};

/// The longest model id (`provider:model`) a compatibility result may name.
pub const MAX_MODEL_CHARS: usize = 200;
/// The longest suite description a compatibility result may carry.
pub const MAX_SUITE_CHARS: usize = 1000;
/// The most models one compatibility record may carry.
pub const MAX_MODELS: usize = 200;

/// Why `model` is not a model id (`provider:model`), if it is not: a provider of
/// letters, digits, `-` and `_`, a colon, then a model name of letters, digits and
/// `.`, `-`, `_`, `:`, `/`, `@`, `+` (`openai:gpt-4o-mini`,
/// `bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0`, `openrouter:meta-llama/llama-3-70b`).
pub fn model_id_problem(model: &str) -> Option<String> {
    let shown = promptops_core::diagnostic::shown(model);
    if model.is_empty() || model.chars().count() > MAX_MODEL_CHARS {
        return Some(format!(
            "model `{shown}` must be 1 to {MAX_MODEL_CHARS} characters, as `provider:model`"
        ));
    }
    let Some((provider, name)) = model.split_once(':') else {
        return Some(format!(
            "model `{shown}` names no provider; write it as `provider:model`, e.g. `openai:gpt-4o-mini`"
        ));
    };
    let provider_ok = !provider.is_empty()
        && provider
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    let name_ok = !name.is_empty()
        && name.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '@' | '+')
        });
    if provider_ok && name_ok {
        None
    } else {
        Some(format!(
            "model `{shown}` is not `provider:model`: the provider takes letters, digits, `-` and `_`, the model letters, digits and `.-_:/@+`"
        ))
    }
}

/// The pass rate of counts: passed over every case (`None` when there were none).
pub fn pass_rate(passed: u64, failed: u64, errors: u64) -> Option<f64> {
    let total = passed.saturating_add(failed).saturating_add(errors);
    (total > 0).then(|| passed as f64 / total as f64)
}

/// What policies read of a version's assessments, as `require` expressions see them
/// (`docs/policy.md`): `redteam` (the newest run's figures, `risks` by OWASP id) and
/// `compatibility` (model → the newest verdict), each absent when nothing is recorded.
pub fn policy_facts(redteam: Option<&RedteamRun>, compatibility: &[CompatibilityRecord]) -> Json {
    let mut facts = serde_json::Map::new();
    if let Some(run) = redteam {
        let s = &run.summary;
        let risks: serde_json::Map<String, Json> = s
            .risks
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    json!({
                        "name": r.name,
                        "cases": r.cases,
                        "succeeded": r.succeeded,
                        "errors": r.errors,
                        "attack_success_rate": r.attack_success_rate,
                        "not_applicable": r.not_applicable,
                    }),
                )
            })
            .collect();
        facts.insert(
            "redteam".into(),
            json!({
                "run": run.id,
                "provider": run.provider,
                "cases": s.cases,
                "succeeded": s.succeeded,
                "errors": s.errors,
                "attack_success_rate": s.attack_success_rate,
                "pii_leaks": s.pii_leaks,
                "risks": risks,
                "attached_by": run.actor,
            }),
        );
    }
    if !compatibility.is_empty() {
        let verdicts: serde_json::Map<String, Json> = compatibility
            .iter()
            .map(|r| (r.model.clone(), json!(r.verdict.as_str())))
            .collect();
        facts.insert("compatibility".into(), Json::Object(verdicts));
    }
    Json::Object(facts)
}

const REDTEAM_COLUMNS: &str = "id, version, provider, summary, actor, created_at";

fn redteam_from_row(id: &str, row: &AnyRow) -> Result<RedteamRun> {
    Ok(RedteamRun {
        id: to_u64(get(row, "id")?, "red-team run id")?,
        prompt_id: id.to_owned(),
        version: get(row, "version")?,
        provider: get(row, "provider")?,
        summary: from_json(&get::<String>(row, "summary")?, "red-team summary")?,
        actor: get(row, "actor")?,
        created_at: get(row, "created_at")?,
    })
}

const COMPATIBILITY_COLUMNS: &str =
    "id, model, passed, failed, errors, verdict, thresholds, suite, actor, created_at";

fn compatibility_from_row(row: &AnyRow) -> Result<CompatibilityRecord> {
    let (passed, failed, errors) = (
        to_u64(get(row, "passed")?, "passed")?,
        to_u64(get(row, "failed")?, "failed")?,
        to_u64(get(row, "errors")?, "errors")?,
    );
    let verdict: String = get(row, "verdict")?;
    Ok(CompatibilityRecord {
        id: to_u64(get(row, "id")?, "compatibility result id")?,
        model: get(row, "model")?,
        passed,
        failed,
        errors,
        pass_rate: pass_rate(passed, failed, errors),
        verdict: serde_json::from_value(Json::String(verdict.clone())).map_err(|_| {
            StoreError::corrupt(format!("unknown compatibility verdict `{verdict}`"))
        })?,
        thresholds: from_json(
            &get::<String>(row, "thresholds")?,
            "compatibility thresholds",
        )?,
        suite: get(row, "suite")?,
        actor: get(row, "actor")?,
        created_at: get(row, "created_at")?,
    })
}

/// A count as the store keeps it; refused rather than clamped, so the row, the reply
/// and the audit event agree.
fn to_i64(n: u64, what: &str) -> Result<i64> {
    i64::try_from(n).map_err(|_| {
        StoreError::invalid(format!(
            "{what} = {n} is larger than the store can keep ({})",
            i64::MAX
        ))
    })
}

/// Checks a compatibility record before anything is written; the problem, in words.
fn check_compatibility(results: &PublishCompatibility) -> Result<()> {
    if let Some(problem) = results.thresholds.problem() {
        return Err(StoreError::invalid(problem));
    }
    if results.results.is_empty() {
        return Err(StoreError::invalid(
            "no results: send at least one model's counts",
        ));
    }
    if results.results.len() > MAX_MODELS {
        return Err(StoreError::invalid(format!(
            "{} models in one record, more than the {MAX_MODELS} allowed; send them in parts",
            results.results.len()
        )));
    }
    if results.suite.trim().is_empty() || results.suite.chars().count() > MAX_SUITE_CHARS {
        return Err(StoreError::invalid(format!(
            "suite must name the suite that was run, in 1 to {MAX_SUITE_CHARS} characters"
        )));
    }
    let mut seen = BTreeSet::new();
    for r in &results.results {
        if let Some(problem) = model_id_problem(&r.model) {
            return Err(StoreError::invalid(problem));
        }
        if !seen.insert(r.model.as_str()) {
            return Err(StoreError::invalid(format!(
                "model `{}` appears twice; send one result per model",
                r.model
            )));
        }
        for (n, what) in [
            (r.passed, "passed"),
            (r.failed, "failed"),
            (r.errors, "errors"),
        ] {
            to_i64(n, &format!("{}: {what}", r.model))?;
        }
        let computed = results.thresholds.verdict(r.passed, r.failed, r.errors);
        if computed != r.verdict {
            let t = results.thresholds;
            return Err(StoreError::invalid(format!(
                "model `{}`: the verdict sent is `{}`, but {} passed, {} failed and {} errors at thresholds works {} and needs_tuning {} make `{}`; send the verdict the counts give",
                r.model,
                r.verdict.as_str(),
                r.passed,
                r.failed,
                r.errors,
                t.works,
                t.needs_tuning,
                computed.as_str()
            )));
        }
    }
    Ok(())
}

impl SqlStore {
    /// The canonical prompt id and version string of an existing version, or 404.
    async fn require_version(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
        version: &str,
        hint: &str,
    ) -> Result<Version> {
        let id = Self::require_prompt(conn, project, id).await?;
        Self::version_in(conn, project, &id, version)
            .await?
            .ok_or_else(|| StoreError::not_found("version", format!("{id}@{version} ({hint})")))
    }

    /// The newest red-team run of a version.
    pub(crate) async fn newest_redteam_in(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<Option<RedteamRun>> {
        let sql = format!(
            "SELECT {REDTEAM_COLUMNS} FROM redteam_runs WHERE project = $1 AND prompt_key = $2 AND version = $3 ORDER BY id DESC LIMIT 1"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(id))
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| redteam_from_row(id, &r))
            .transpose()
    }

    /// The newest compatibility result of a version per model, by model.
    pub(crate) async fn newest_compatibility_in(
        conn: &mut AnyConnection,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<Vec<CompatibilityRecord>> {
        let sql = format!(
            "SELECT {COMPATIBILITY_COLUMNS} FROM compatibility_results WHERE id IN \
             (SELECT MAX(id) FROM compatibility_results WHERE project = $1 AND prompt_key = $2 AND version = $3 GROUP BY model) \
             ORDER BY model"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(id))
            .bind(version)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(compatibility_from_row)
            .collect()
    }

    async fn insert_compatibility(
        tx: &mut WriteTx,
        project: &str,
        id: &str,
        version: &str,
        results: &PublishCompatibility,
        actor: &Actor,
    ) -> Result<Vec<CompatibilityRecord>> {
        let now = now_rfc3339();
        let thresholds = serde_json::to_string(&results.thresholds)
            .map_err(|e| StoreError::invalid(format!("thresholds: {e}")))?;
        let mut out = Vec::with_capacity(results.results.len());
        for r in &results.results {
            let row_id = next_id(tx, IdTable::CompatibilityResults).await?;
            sqlx::query(
                "INSERT INTO compatibility_results (id, project, prompt_key, version, model, passed, failed, errors, verdict, thresholds, suite, actor, via_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            )
            .bind(row_id)
            .bind(project)
            .bind(comparable(id))
            .bind(version)
            .bind(&r.model)
            .bind(to_i64(r.passed, "passed")?)
            .bind(to_i64(r.failed, "failed")?)
            .bind(to_i64(r.errors, "errors")?)
            .bind(r.verdict.as_str())
            .bind(&thresholds)
            .bind(&results.suite)
            .bind(actor.as_str())
            .bind(&actor.via_key)
            .bind(&now)
            .execute(&mut **tx)
            .await?;
            out.push(CompatibilityRecord {
                id: to_u64(row_id, "compatibility result id")?,
                model: r.model.clone(),
                passed: r.passed,
                failed: r.failed,
                errors: r.errors,
                pass_rate: pass_rate(r.passed, r.failed, r.errors),
                verdict: r.verdict,
                thresholds: results.thresholds,
                suite: results.suite.clone(),
                actor: actor.name.clone(),
                created_at: now.clone(),
            });
        }
        Ok(out)
    }
}

impl Assessments for SqlStore {
    async fn attach_redteam(
        &self,
        project: &str,
        id: &str,
        version: &str,
        report: &RedteamReport,
        actor: &Actor,
    ) -> Result<RedteamRun> {
        report
            .check()
            .map_err(|p| StoreError::invalid(p.to_string()))?;
        let same_version =
            semver::Version::parse(&report.version).is_ok_and(|v| v.to_string() == version);
        if !same_id(&report.prompt_id, id) || !same_version {
            return Err(StoreError::invalid(format!(
                "the report is about {}@{}, not {id}@{version}; attach it to the version it attacked",
                report.prompt_id, report.version
            )));
        }
        let summary = RedteamReport::tally(&report.cases, &report.not_applicable);
        let summary_text = serde_json::to_string(&summary)
            .map_err(|e| StoreError::invalid(format!("red-team summary: {e}")))?;
        let report_text = serde_json::to_string(report)
            .map_err(|e| StoreError::invalid(format!("red-team report: {e}")))?;
        let mut tx = self.write_tx().await?;
        let v = Self::require_version(
            &mut tx,
            project,
            id,
            version,
            "push it before publishing its red-team report",
        )
        .await?;
        if let Some(hash) = &report.content_hash
            && hash != &v.content_hash
        {
            return Err(StoreError::invalid(format!(
                "the report attacked content {hash}, but {}@{version} is {}; run the red team against the version as published",
                v.id, v.content_hash
            )));
        }
        let run_id = next_id(&mut tx, IdTable::RedteamRuns).await?;
        let now = now_rfc3339();
        sqlx::query(
            "INSERT INTO redteam_runs (id, project, prompt_key, version, provider, summary, report, actor, via_key, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(run_id)
        .bind(project)
        .bind(comparable(&v.id))
        .bind(version)
        .bind(&report.provider)
        .bind(&summary_text)
        .bind(&report_text)
        .bind(actor.as_str())
        .bind(&actor.via_key)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        append_audit(
            &mut tx,
            actor,
            "redteam.attached",
            &format!("prompt:{project}/{}@{version}", v.id),
            json!({"id": v.id, "version": version, "run": run_id, "provider": report.provider,
                   "cases": summary.cases, "attack_success_rate": summary.attack_success_rate,
                   "pii_leaks": summary.pii_leaks}),
        )
        .await?;
        tx.commit().await?;
        Ok(RedteamRun {
            id: to_u64(run_id, "red-team run id")?,
            prompt_id: v.id,
            version: version.to_owned(),
            provider: report.provider.clone(),
            summary,
            actor: actor.name.clone(),
            created_at: now,
        })
    }

    async fn redteam_runs(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<Vec<RedteamRun>> {
        let mut conn = self.pool.acquire().await?;
        let v = Self::require_version(&mut conn, project, id, version, "not published").await?;
        let sql = format!(
            "SELECT {REDTEAM_COLUMNS} FROM redteam_runs WHERE project = $1 AND prompt_key = $2 AND version = $3 ORDER BY id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project)
            .bind(comparable(&v.id))
            .bind(version)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| redteam_from_row(&v.id, r))
            .collect()
    }

    async fn redteam_report(&self, project: &str, run: u64) -> Result<Json> {
        let row = sqlx::query("SELECT report FROM redteam_runs WHERE project = $1 AND id = $2")
            .bind(project)
            .bind(i64::try_from(run).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("red-team run", run.to_string()))?;
        from_json(&get::<String>(&row, "report")?, "red-team report")
    }

    async fn record_compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
        results: &PublishCompatibility,
        actor: &Actor,
    ) -> Result<Vec<CompatibilityRecord>> {
        check_compatibility(results)?;
        let mut tx = self.write_tx().await?;
        let v = Self::require_version(
            &mut tx,
            project,
            id,
            version,
            "push it before publishing its compatibility results",
        )
        .await?;
        let records =
            Self::insert_compatibility(&mut tx, project, &v.id, version, results, actor).await?;
        let verdicts: BTreeMap<&str, &str> = records
            .iter()
            .map(|r| (r.model.as_str(), r.verdict.as_str()))
            .collect();
        append_audit(
            &mut tx,
            actor,
            "compatibility.recorded",
            &format!("prompt:{project}/{}@{version}", v.id),
            json!({"id": v.id, "version": version, "suite": results.suite,
                   "first": records.first().map(|r| r.id), "models": verdicts}),
        )
        .await?;
        tx.commit().await?;
        Ok(records)
    }

    async fn compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> Result<CompatibilityMatrix> {
        let mut conn = self.pool.acquire().await?;
        let v = Self::require_version(&mut conn, project, id, version, "not published").await?;
        let recorded = Self::newest_compatibility_in(&mut conn, project, &v.id, version).await?;
        Ok(matrix(&v, recorded))
    }
}

/// The declared verdicts of a version's content (`model.compatibility`), by model.
pub fn declared_compatibility(content: &Json) -> BTreeMap<String, CompatibilityVerdict> {
    content
        .pointer("/model/compatibility")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(model, verdict)| {
                    serde_json::from_value(verdict.clone())
                        .ok()
                        .map(|v| (model.clone(), v))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The recorded results beside the declared verdicts, one row per model, by model.
fn matrix(v: &Version, recorded: Vec<CompatibilityRecord>) -> CompatibilityMatrix {
    let mut declared = declared_compatibility(&v.content);
    let mut rows: BTreeMap<String, MatrixCell> = BTreeMap::new();
    for r in recorded {
        let said = declared.remove(&r.model);
        rows.insert(
            r.model.clone(),
            MatrixCell {
                model: r.model.clone(),
                agrees: said.map(|d| d == r.verdict),
                declared: said,
                recorded: Some(r),
            },
        );
    }
    for (model, said) in declared {
        rows.insert(
            model.clone(),
            MatrixCell {
                model,
                recorded: None,
                declared: Some(said),
                agrees: None,
            },
        );
    }
    CompatibilityMatrix {
        prompt_id: v.id.clone(),
        version: v.version.clone(),
        models: rows.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids() {
        for ok in [
            "openai:gpt-4o-mini",
            "bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0",
            "openrouter:meta-llama/llama-3-70b",
            "ollama:llama3.1:8b",
        ] {
            assert_eq!(model_id_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "gpt-4o",
            ":gpt-4o",
            "openai:",
            "open ai:gpt",
            "openai:gpt 4",
            "openai:<script>",
        ] {
            assert!(model_id_problem(bad).is_some(), "{bad}");
        }
        assert!(model_id_problem(&format!("openai:{}", "x".repeat(MAX_MODEL_CHARS))).is_some());
    }
}
