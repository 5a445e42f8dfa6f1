//! The `-o results.json` document in promptfoo's shape (version 3): `results.results[]`
//! rows with `promptIdx`, `testIdx`, `vars`, `provider`, `response`, `success`, `score`,
//! `latencyMs`, `cost`, `gradingResult.componentResults[]`, and `results.stats`.

use super::Context;
use super::summary::PromptSummary;
use crate::assertions::GradingResult;
use crate::provider::{HttpMeta, Provider, Response, TokenUsage};
use crate::runner::Row;
use crate::suite::{AssertItem, Suite, TestStep};
use promptops_core::canonical::sha256_hex;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json, json};

/// Writes the whole document to `out` (see [`begin`], [`row`] and [`finish`] for
/// writing it while a run is in progress).
pub fn write(out: &mut dyn std::io::Write, cx: &Context) -> std::io::Result<()> {
    begin(out, cx.started_at)?;
    for (i, r) in cx.rows_in_order().enumerate() {
        row(out, cx.suite, cx.providers, &r?, cx.started_at, i)?;
    }
    finish(out, cx)
}

/// The head of the document, up to the start of the result rows.
pub fn begin<W: std::io::Write + ?Sized>(out: &mut W, started_at: &str) -> std::io::Result<()> {
    let eval_id = format!(
        "eval-{}-{}",
        &sha256_hex(started_at)[..3],
        started_at.get(..19).unwrap_or(started_at)
    );
    writeln!(out, "{{")?;
    writeln!(out, "  \"evalId\": {},", json!(eval_id))?;
    writeln!(out, "  \"results\": {{")?;
    writeln!(out, "    \"version\": 3,")?;
    writeln!(out, "    \"timestamp\": {},", json!(started_at))?;
    write!(out, "    \"results\": [")
}

/// Result row number `index` (rows are written compactly, one per line, in completion order).
pub fn row<W: std::io::Write + ?Sized>(
    out: &mut W,
    suite: &Suite,
    providers: &[Provider],
    r: &Row,
    started_at: &str,
    index: usize,
) -> std::io::Result<()> {
    out.write_all(if index == 0 { b"\n" } else { b",\n" })?;
    // A row fresh from the runner carries its step; one read back is looked up.
    let step = match &r.step_data {
        Some(step) => step.clone(),
        None => suite.steps.get(r.step)?,
    };
    let view = RowView {
        suite,
        providers,
        row: r,
        step: &step,
        id: row_id(started_at, index),
    };
    serde_json::to_writer(&mut *out, &view)?;
    Ok(())
}

/// The rest of the document: per-prompt metrics, stats, the config, run metadata, and
/// the comparison with `--baseline` (`baselineComparison`, not a promptfoo key) when
/// there is one.
pub fn finish<W: std::io::Write + ?Sized>(out: &mut W, cx: &Context) -> std::io::Result<()> {
    let Context {
        suite,
        providers,
        run,
        summary,
        started_at,
        runtime,
        comparison,
    } = *cx;
    writeln!(out, "\n    ],")?;
    let mut prompts = Vec::new();
    for (slot, column) in suite.columns.iter().enumerate() {
        let template = &suite.prompts[column.prompt];
        prompts.push(json!({
            "id": template.id,
            "raw": template.raw,
            "label": template.label,
            "provider": providers[column.provider].display_name(),
            "metrics": metrics(&summary.per_prompt[slot]),
        }));
    }
    writeln!(
        out,
        "    \"prompts\": {},",
        serde_json::to_string(&prompts)?
    )?;
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
    write!(out, "  \"config\": ")?;
    suite.config_echo.write(out)?;
    writeln!(out, ",")?;
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
    write!(
        out,
        "  \"runtimeOptions\": {}",
        serde_json::to_string(runtime)?
    )?;
    if let Some(c) = comparison {
        write!(
            out,
            ",\n  \"baselineComparison\": {}",
            serde_json::to_string(c)?
        )?;
    }
    writeln!(out, "\n}}")?;
    out.flush()
}

/// A stable UUID-shaped id for row `i` of the run started at `started_at`.
fn row_id(started_at: &str, i: usize) -> String {
    let h = sha256_hex(format!("{started_at}/{i}"));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A result row, serialised straight from the run's data (no intermediate JSON tree:
/// reports of thousands of rows stay cheap).
struct RowView<'a> {
    suite: &'a Suite,
    providers: &'a [Provider],
    row: &'a Row,
    step: &'a TestStep,
    id: String,
}

impl Serialize for RowView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (r, step) = (self.row, self.step);
        let provider = &self.providers[r.provider];
        let template = &self.suite.prompts[r.prompt];
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry(
            "cost",
            &r.response
                .as_ref()
                .and_then(|x| x.cost)
                .map_or(0.0, |c| c.as_usd_f64()),
        )?;
        if let Some(d) = &step.test.description {
            m.serialize_entry("description", d)?;
        }
        if let Some(e) = &r.error {
            m.serialize_entry("error", e)?;
        }
        m.serialize_entry("gradingResult", &r.grading.as_ref().map(GradingView))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("latencyMs", &r.latency_ms)?;
        match &r.grading {
            Some(g) => m.serialize_entry("namedScores", &scores(&g.named_scores))?,
            None => m.serialize_entry("namedScores", &Empty)?,
        }
        m.serialize_entry(
            "prompt",
            &PromptView {
                raw: &r.rendered_prompt,
                label: &template.label,
                options: &step.test.options,
            },
        )?;
        m.serialize_entry("promptId", &template.id)?;
        m.serialize_entry("promptIdx", &r.prompt_idx)?;
        m.serialize_entry(
            "provider",
            &json!({ "id": provider.spec.reported_id, "label": provider.spec.label }),
        )?;
        if let Some(resp) = &r.response {
            m.serialize_entry(
                "response",
                &ResponseView {
                    resp,
                    latency_ms: r.latency_ms,
                },
            )?;
        }
        m.serialize_entry("score", &Number(r.score))?;
        m.serialize_entry("success", &r.success())?;
        m.serialize_entry(
            "testCase",
            &TestCaseView {
                step,
                suite: self.suite,
            },
        )?;
        m.serialize_entry("testIdx", &step.test_idx)?;
        let usage = r.response.as_ref().map_or(
            TokenUsage {
                num_requests: 1,
                ..TokenUsage::default()
            },
            |x| x.token_usage,
        );
        let graders = r
            .grading
            .as_ref()
            .map(|g| g.tokens_used)
            .unwrap_or_default();
        m.serialize_entry("tokenUsage", &UsageView(usage, graders))?;
        m.serialize_entry("vars", r.vars.as_ref().unwrap_or(&step.vars))?;
        let http = r
            .response
            .as_ref()
            .filter(|x| x.guardrails || x.error.is_some())
            .and_then(|x| x.http.as_ref());
        m.serialize_entry(
            "metadata",
            &MetadataView {
                test: step.test.object.get("metadata"),
                http,
            },
        )?;
        m.serialize_entry("failureReason", &r.failure_reason)?;
        m.end()
    }
}

struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }
}

/// Whole numbers as integers (`1`, not `1.0`), as JavaScript writes them.
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 9.0e15 {
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

struct PromptView<'a> {
    raw: &'a str,
    label: &'a str,
    options: &'a Map<String, Json>,
}

impl Serialize for PromptView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(3))?;
        m.serialize_entry("raw", self.raw)?;
        m.serialize_entry("label", self.label)?;
        let config: Map<String, Json> = self
            .options
            .iter()
            .filter(|(k, _)| *k != "repeat")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        m.serialize_entry("config", &config)?;
        m.end()
    }
}

struct TestCaseView<'a> {
    step: &'a TestStep,
    suite: &'a Suite,
}

impl Serialize for TestCaseView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let test = &self.step.test;
        let mut m = serializer.serialize_map(None)?;
        if let Some(d) = test.object.get("description") {
            m.serialize_entry("description", d)?;
        }
        m.serialize_entry("vars", &self.step.vars)?;
        if !test.asserts.is_empty() {
            let asserts: Vec<&Json> = test.asserts.iter().map(AssertItem::raw).collect();
            m.serialize_entry("assert", &asserts)?;
        }
        for (k, v) in test.object.iter().filter(|(k, _)| *k != "description") {
            if k == "provider"
                && let Some(i) = self.suite.test_provider_index(test)
            {
                m.serialize_entry(k, &test_provider(self.suite, i))?;
            } else {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// A test's `provider:` as promptfoo reports the provider it loaded: its id, label and
/// config (with the folder it was loaded from as `basePath`), credentials redacted.
fn test_provider(suite: &Suite, i: usize) -> Json {
    let spec = &suite.test_providers[i];
    let mut config: Map<String, Json> = spec
        .config
        .iter()
        .map(|(k, v)| {
            let redacted = crate::provider::cache::is_credential(k) && v.is_string();
            let v = if redacted {
                Json::String("[REDACTED]".into())
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    let base = suite.base_dir.display().to_string();
    let base = if base.is_empty() {
        ".".to_owned()
    } else {
        base
    };
    config.insert("basePath".into(), Json::String(base));
    json!({"id": spec.reported_id, "label": spec.label, "config": config})
}

struct MetadataView<'a> {
    test: Option<&'a Json>,
    http: Option<&'a HttpMeta>,
}

impl Serialize for MetadataView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        if let Some(Json::Object(test)) = self.test {
            for (k, v) in test {
                m.serialize_entry(k, v)?;
            }
        }
        if let Some(http) = self.http {
            m.serialize_entry("http", &HttpView(http))?;
        }
        m.serialize_entry("_promptfooFileMetadata", &Empty)?;
        m.end()
    }
}

struct HttpView<'a>(&'a HttpMeta);

impl Serialize for HttpView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(3))?;
        m.serialize_entry("status", &self.0.status)?;
        m.serialize_entry("statusText", &self.0.status_text)?;
        m.serialize_entry("headers", &self.0.headers_json())?;
        m.end()
    }
}

struct ResponseView<'a> {
    resp: &'a Response,
    latency_ms: u64,
}

impl Serialize for ResponseView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resp = self.resp;
        let mut m = serializer.serialize_map(None)?;
        if let Some(e) = &resp.error {
            m.serialize_entry("error", e)?;
            if let Some(http) = &resp.http {
                m.serialize_entry("metadata", &json!({ "http": HttpView(http).to_json() }))?;
            }
            return m.end();
        }
        m.serialize_entry("output", &resp.output)?;
        m.serialize_entry(
            "tokenUsage",
            &UsageView(resp.token_usage, TokenUsage::default()),
        )?;
        m.serialize_entry("cached", &resp.cached)?;
        m.serialize_entry("latencyMs", &self.latency_ms)?;
        if let Some(f) = &resp.finish_reason {
            m.serialize_entry("finishReason", f)?;
        }
        if let Some(c) = resp.cost {
            m.serialize_entry("cost", &c.as_usd_f64())?;
        }
        if resp.guardrails {
            m.serialize_entry("guardrails", &json!({ "flagged": false }))?;
        }
        if let Some(http) = &resp.http {
            m.serialize_entry("metadata", &json!({ "http": HttpView(http).to_json() }))?;
        }
        m.end()
    }
}

impl HttpView<'_> {
    fn to_json(&self) -> Json {
        json!({ "status": self.0.status, "statusText": self.0.status_text, "headers": self.0.headers_json() })
    }
}

struct GradingView<'a>(&'a GradingResult);

impl Serialize for GradingView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let g = self.0;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("pass", &g.pass)?;
        m.serialize_entry("score", &Number(g.score))?;
        m.serialize_entry("reason", &g.reason)?;
        // A comparison's figures (`max-score`'s `maxScore`, ...) are in the grading only.
        let mut named = scores(&g.named_scores);
        named.extend(scores(&g.comparison_named_scores));
        m.serialize_entry("namedScores", &named)?;
        if !g.named_score_weights.is_empty() {
            m.serialize_entry("namedScoreWeights", &scores(&g.named_score_weights))?;
        }
        m.serialize_entry(
            "tokensUsed",
            &json!({ "total": 0, "prompt": 0, "completion": 0, "cached": 0, "numRequests": 0 }),
        )?;
        // promptfoo has no component list for a test without assertions, nor for a
        // `select-best` verdict that stands in for an error row's grading.
        let listed = g.bare_comparison.is_none()
            && (!g.component_results.is_empty() || g.reason != "No assertions");
        if listed {
            let components: Vec<ComponentView> =
                g.component_results.iter().map(ComponentView).collect();
            m.serialize_entry("componentResults", &components)?;
        }
        if let Some(a) = &g.assertion {
            m.serialize_entry("assertion", a.as_ref())?;
        }
        m.end()
    }
}

struct ComponentView<'a>(&'a crate::assertions::ComponentResult);

impl Serialize for ComponentView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("pass", &c.pass)?;
        m.serialize_entry("score", &Number(c.score))?;
        m.serialize_entry("reason", &c.reason)?;
        m.serialize_entry("assertion", c.assertion.as_ref())?;
        // What a script's GradingResult (or an assert-set) carries, as promptfoo keeps it.
        if !c.named_scores.is_empty() {
            m.serialize_entry("namedScores", &scores(&c.named_scores))?;
        }
        if !c.named_score_weights.is_empty() {
            m.serialize_entry("namedScoreWeights", &scores(&c.named_score_weights))?;
        }
        if !c.component_results.is_empty() {
            let nested: Vec<ComponentView> =
                c.component_results.iter().map(ComponentView).collect();
            m.serialize_entry("componentResults", &nested)?;
        }
        m.end()
    }
}

/// Named scores (or weights) as JSON numbers, whole ones as integers as JavaScript
/// writes them, and `null` for the infinities and NaN a derived metric can give (JSON
/// has no such numbers).
fn scores(named: &std::collections::BTreeMap<String, f64>) -> Map<String, Json> {
    named
        .iter()
        .map(|(k, v)| {
            let v = if v.is_finite() {
                crate::number(*v)
            } else {
                Json::Null
            };
            (k.clone(), v)
        })
        .collect()
}

/// A call's token usage, with the graders' usage under `assertions`.
struct UsageView(TokenUsage, TokenUsage);

impl Serialize for UsageView {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut v = token_usage(self.0);
        let g = self.1;
        v["assertions"] = json!({ "total": g.total, "prompt": g.prompt, "completion": g.completion, "cached": g.cached, "numRequests": g.num_requests, "completionDetails": completion_details() });
        v.serialize(serializer)
    }
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
        "score": crate::number(p.score_sum),
        "testPassCount": p.pass,
        "testFailCount": p.fail,
        "testErrorCount": p.error,
        "assertPassCount": p.assert_pass,
        "assertFailCount": p.assert_fail,
        "totalLatencyMs": p.latency_ms,
        "tokenUsage": token_usage(p.tokens),
        "namedScores": scores(&p.named_scores),
        "namedScoresCount": named_counts,
        "namedScoreWeights": scores(&p.named_weights),
        "cost": p.cost.as_usd_f64(),
    })
}
