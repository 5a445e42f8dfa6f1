//! The `-o results.json` document in promptfoo's shape (version 3): `results.results[]`
//! rows with `promptIdx`, `testIdx`, `vars`, `provider`, `response`, `success`, `score`,
//! `latencyMs`, `cost`, `gradingResult.componentResults[]`, and `results.stats`.

use super::summary::{PromptSummary, Summary};
use crate::assertions::GradingResult;
use crate::provider::{Provider, Response, TokenUsage};
use crate::runner::{Row, RunResult};
use crate::suite::Suite;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest, Sha256};

/// Writes the whole document to `out`, one result row at a time, so memory does not
/// grow with the number of rows (rows are written compactly, one per line).
pub fn write<W: std::io::Write>(
    out: &mut W,
    suite: &Suite,
    providers: &[Provider],
    run: &RunResult,
    summary: &Summary,
    started_at: &str,
    runtime: &Json,
) -> std::io::Result<()> {
    let mut prompts = Vec::new();
    for (p_idx, provider) in providers.iter().enumerate() {
        for (t_idx, template) in suite.prompts.iter().enumerate() {
            let slot = p_idx * suite.prompts.len() + t_idx;
            prompts.push(json!({
                "id": template.id,
                "raw": template.raw,
                "label": template.label,
                "provider": provider.display_name(),
                "metrics": metrics(&summary.per_prompt[slot]),
            }));
        }
    }
    let eval_id = format!(
        "eval-{}-{}",
        &short_hash(started_at)[..3],
        started_at.get(..19).unwrap_or(started_at)
    );
    writeln!(out, "{{")?;
    writeln!(out, "  \"evalId\": {},", json!(eval_id))?;
    writeln!(out, "  \"results\": {{")?;
    writeln!(out, "    \"version\": 3,")?;
    writeln!(out, "    \"timestamp\": {},", json!(started_at))?;
    writeln!(
        out,
        "    \"prompts\": {},",
        serde_json::to_string(&prompts)?
    )?;
    writeln!(out, "    \"results\": [")?;
    for (i, r) in run.rows.iter().enumerate() {
        let separator = if i + 1 < run.rows.len() { "," } else { "" };
        serde_json::to_writer(&mut *out, &row(suite, providers, r, started_at, i))?;
        writeln!(out, "{separator}")?;
    }
    writeln!(out, "    ],")?;
    let stats = json!({
        "successes": summary.successes,
        "failures": summary.failures,
        "errors": summary.errors,
        "tokenUsage": token_usage(summary.tokens),
        "durationMs": run.duration.as_millis() as u64,
        "evaluationDurationMs": run.duration.as_millis() as u64,
    });
    writeln!(out, "    \"stats\": {}", serde_json::to_string(&stats)?)?;
    writeln!(out, "  }},")?;
    writeln!(out, "  \"config\": {},", suite.config_json.get())?;
    writeln!(out, "  \"shareableUrl\": null,")?;
    let metadata = json!({
        "promptopsVersion": env!("CARGO_PKG_VERSION"),
        "platform": std::env::consts::OS,
        "arch": std::env::consts::ARCH,
        "exportedAt": started_at,
        "evaluationCreatedAt": started_at,
        "interrupted": run.interrupted,
    });
    writeln!(
        out,
        "  \"metadata\": {},",
        serde_json::to_string(&metadata)?
    )?;
    if !suite.var_names.is_empty() {
        writeln!(
            out,
            "  \"vars\": {},",
            serde_json::to_string(&suite.var_names)?
        )?;
    }
    writeln!(
        out,
        "  \"runtimeOptions\": {}",
        serde_json::to_string(runtime)?
    )?;
    writeln!(out, "}}")?;
    out.flush()
}

fn short_hash(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stable UUID-shaped id for row `i` of the run started at `started_at`.
fn row_id(started_at: &str, i: usize) -> String {
    let h = short_hash(&format!("{started_at}/{i}"));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

fn row(suite: &Suite, providers: &[Provider], r: &Row, started_at: &str, i: usize) -> Json {
    let step = &suite.steps[r.step];
    let provider = &providers[r.provider];
    let template = &suite.prompts[r.prompt];
    let mut o = Map::new();
    o.insert(
        "cost".into(),
        json!(
            r.response
                .as_ref()
                .and_then(|x| x.cost)
                .map_or(0.0, |c| c.as_usd_f64())
        ),
    );
    if let Some(d) = &step.test.description {
        o.insert("description".into(), json!(d));
    }
    if let Some(e) = &r.error {
        o.insert("error".into(), json!(e));
    }
    o.insert(
        "gradingResult".into(),
        r.grading.as_ref().map_or(Json::Null, grading),
    );
    o.insert("id".into(), json!(row_id(started_at, i)));
    o.insert("latencyMs".into(), json!(r.latency_ms));
    o.insert(
        "namedScores".into(),
        r.grading
            .as_ref()
            .map_or(json!({}), |g| json!(g.named_scores)),
    );
    let mut prompt_config = Map::new();
    for (k, v) in &step.test.options {
        if k != "repeat" {
            prompt_config.insert(k.clone(), v.clone());
        }
    }
    o.insert(
        "prompt".into(),
        json!({ "raw": r.rendered_prompt, "label": template.label, "config": prompt_config }),
    );
    o.insert("promptId".into(), json!(template.id));
    o.insert("promptIdx".into(), json!(r.prompt_idx));
    o.insert(
        "provider".into(),
        json!({ "id": provider.spec.reported_id, "label": provider.spec.label }),
    );
    if let Some(resp) = &r.response {
        o.insert("response".into(), response(resp, r.latency_ms));
    }
    o.insert("score".into(), json!(r.score));
    o.insert("success".into(), json!(r.success()));
    o.insert("testCase".into(), step.test_case());
    o.insert("testIdx".into(), json!(step.test_idx));
    let usage = r.response.as_ref().map_or(
        TokenUsage {
            num_requests: 1,
            ..TokenUsage::default()
        },
        |x| x.token_usage,
    );
    o.insert("tokenUsage".into(), token_usage(usage));
    o.insert("vars".into(), Json::Object(step.vars.clone()));
    let mut metadata = step
        .test
        .object
        .get("metadata")
        .and_then(Json::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(http) = r
        .response
        .as_ref()
        .and_then(|x| x.http.as_ref())
        .filter(|_| {
            r.response
                .as_ref()
                .is_some_and(|x| x.guardrails || x.error.is_some())
        })
    {
        metadata.insert("http".into(), json!({ "status": http.status, "statusText": http.status_text, "headers": http.headers }));
    }
    metadata.insert("_promptfooFileMetadata".into(), json!({}));
    o.insert("metadata".into(), Json::Object(metadata));
    o.insert("failureReason".into(), json!(r.failure_reason));
    Json::Object(o)
}

fn response(resp: &Response, latency_ms: u64) -> Json {
    let mut o = Map::new();
    if let Some(e) = &resp.error {
        o.insert("error".into(), json!(e));
        if let Some(http) = &resp.http {
            o.insert("metadata".into(), json!({ "http": { "status": http.status, "statusText": http.status_text, "headers": http.headers } }));
        }
        return Json::Object(o);
    }
    o.insert("output".into(), resp.output.clone().unwrap_or(Json::Null));
    o.insert("tokenUsage".into(), token_usage(resp.token_usage));
    o.insert("cached".into(), json!(false));
    o.insert("latencyMs".into(), json!(latency_ms));
    if let Some(f) = &resp.finish_reason {
        o.insert("finishReason".into(), json!(f));
    }
    if let Some(c) = resp.cost {
        o.insert("cost".into(), json!(c.as_usd_f64()));
    }
    if resp.guardrails {
        o.insert("guardrails".into(), json!({ "flagged": false }));
    }
    if let Some(http) = &resp.http {
        o.insert("metadata".into(), json!({ "http": { "status": http.status, "statusText": http.status_text, "headers": http.headers } }));
    }
    Json::Object(o)
}

fn grading(g: &GradingResult) -> Json {
    let mut o = Map::new();
    o.insert("pass".into(), json!(g.pass));
    o.insert("score".into(), json!(g.score));
    o.insert("reason".into(), json!(g.reason));
    o.insert("namedScores".into(), json!(g.named_scores));
    o.insert(
        "tokensUsed".into(),
        json!({ "total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0 }),
    );
    if !g.component_results.is_empty() || g.reason != "No assertions" {
        let components: Vec<Json> = g
            .component_results
            .iter()
            .map(|c| json!({ "pass": c.pass, "score": c.score, "reason": c.reason, "assertion": c.assertion }))
            .collect();
        o.insert("componentResults".into(), Json::Array(components));
    }
    Json::Object(o)
}

fn completion_details() -> Json {
    json!({ "reasoning": 0, "acceptedPrediction": 0, "rejectedPrediction": 0, "cacheReadInputTokens": 0, "cacheCreationInputTokens": 0 })
}

fn token_usage(u: TokenUsage) -> Json {
    json!({
        "prompt": u.prompt,
        "completion": u.completion,
        "cached": u.cached,
        "total": u.total,
        "numRequests": u.num_requests,
        "completionDetails": completion_details(),
        "assertions": { "total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0, "completionDetails": completion_details() },
    })
}

fn metrics(p: &PromptSummary) -> Json {
    let named_counts: Map<String, Json> = p
        .named_counts
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    json!({
        "score": p.score_sum,
        "testPassCount": p.pass,
        "testFailCount": p.fail,
        "testErrorCount": p.error,
        "assertPassCount": p.assert_pass,
        "assertFailCount": p.assert_fail,
        "totalLatencyMs": p.latency_ms,
        "tokenUsage": token_usage(p.tokens),
        "namedScores": p.named_scores,
        "namedScoresCount": named_counts,
        "namedScoreWeights": {},
        "cost": p.cost.as_usd_f64(),
    })
}
