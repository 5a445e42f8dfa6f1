//! `assertScoringFunction` on a test (or `defaultTest`): a JavaScript or Python function
//! that scores the test from its named scores and assertion results, as promptfoo
//! 0.123.1 runs it (`AssertionsResult.testResult` in `src/assertions/assertionsResult.ts`,
//! `loadFunction` in `src/util/functions/loadFunction.ts`).
//!
//! It is called once the assertions are combined (threshold applied) with
//! `(namedScores, {threshold, componentResults, tokensUsed})` and must return a grading
//! result (`{pass, score, reason}`, optionally `namedScores`, `componentResults`), whose
//! keys then replace the combined result's. A throw, or anything else returned, fails the
//! test with `Scoring function error: <message>`.

use super::{ComponentResult, GradingResult, script};
use serde_json::{Map, Value as Json, json};
use std::path::Path;
use std::sync::Arc;

/// `file://scoring.js:fn` → (`scoring.js`, `Some("fn")`), as promptfoo's `parseFileUrl`
/// splits it (at the last `:` when what precedes it is a `.js`/`.py` file).
pub fn split_spec(spec: &str) -> Result<(&str, Option<&str>), String> {
    let rest = spec.strip_prefix("file://").ok_or_else(|| {
        format!("`{spec}` is not a function file: write `file://scoring.js[:name]` or `file://scoring.py[:name]`")
    })?;
    let (path, name) = match rest.rfind(':') {
        Some(at) if at > 1 && is_script(&rest[..at]) => (&rest[..at], Some(&rest[at + 1..])),
        _ => (rest, None),
    };
    if !is_script(path) {
        return Err(format!(
            "`{spec}`: the file must be JavaScript (.js, .cjs, .mjs, .ts, …) or Python (.py)"
        ));
    }
    Ok((path, name.filter(|n| !n.is_empty())))
}

fn is_script(path: &str) -> bool {
    script::is_javascript_file(path) || path.ends_with(".py")
}

/// Applies the scoring function `spec` (relative to `base_dir`) to a test's combined
/// result.
pub async fn apply(
    spec: &str,
    grading: GradingResult,
    threshold: Option<f64>,
    base_dir: &Path,
) -> GradingResult {
    let named: Map<String, Json> = grading
        .named_scores
        .iter()
        .map(|(k, v)| (k.clone(), crate::number(*v)))
        .collect();
    let mut context = Map::new();
    if let Some(t) = threshold {
        context.insert("threshold".into(), crate::number(t));
    }
    context.insert(
        "componentResults".into(),
        Json::Array(
            grading
                .component_results
                .iter()
                .map(component_json)
                .collect(),
        ),
    );
    let t = grading.tokens_used;
    context.insert(
        "tokensUsed".into(),
        json!({"total": t.total, "prompt": t.prompt, "completion": t.completion, "cached": t.cached, "numRequests": t.num_requests}),
    );
    let args = [Json::Object(named), Json::Object(context)];
    match call_function_file(spec, &args, base_dir).await {
        Ok(returned) => match merge(&grading, &returned) {
            Some(merged) => merged,
            None => failed(
                grading,
                "assertion scoring function must return a GradingResult",
            ),
        },
        Err(message) => failed(grading, &message),
    }
}

/// Calls the function file `spec` (`file://x.js[:fn]`, `.ts`, … or `.py[:fn]`, relative
/// to `base_dir`) with `args`: a JavaScript file's named export, else its function, its
/// `default` or its `func` export (promptfoo's `loadFunction`), run in the embedded engine
/// or under Node.js as the file needs; a Python file's named function, else `func`.
pub(crate) async fn call_function_file(
    spec: &str,
    args: &[Json],
    base_dir: &Path,
) -> Result<Json, String> {
    let (path, name) = split_spec(spec)?;
    if path.ends_with(".py") {
        return script::python::call_with(spec, args.to_vec(), "func", base_dir)
            .await
            .map_err(|e| format!("Error running Python script: {e}"));
    }
    let file = base_dir.join(path);
    let args = Json::Array(args.to_vec());
    let answer = match name {
        Some(name) => script::call_file(&file, name, &args, base_dir).await,
        None => match script::call_file(&file, "", &args, base_dir).await {
            Err(script::JsError::Threw { message, .. })
                if message.ends_with("does not export a function") =>
            {
                script::call_file(&file, "func", &args, base_dir).await
            }
            other => other,
        },
    };
    match answer {
        Ok(answer) => Ok(answer.get("value").cloned().unwrap_or(Json::Null)),
        Err(script::JsError::Threw { message, .. }) => Err(message),
        Err(other) => Err(other.to_string()),
    }
}

/// The combined result with the function's keys over it, or `None` when what it returned
/// is not a grading result (promptfoo's `isGradingResult`).
fn merge(grading: &GradingResult, returned: &Json) -> Option<GradingResult> {
    let o = returned.as_object()?;
    let pass = o.get("pass")?.as_bool()?;
    let score = o.get("score")?.as_f64()?;
    let reason = o.get("reason")?.as_str()?.to_owned();
    let mut merged = grading.clone();
    merged.pass = pass;
    merged.score = score;
    merged.reason = reason;
    match o.get("namedScores") {
        None => {}
        Some(Json::Object(named)) => {
            merged.named_scores = named
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
        }
        Some(_) => return None,
    }
    match o.get("namedScoreWeights") {
        None => {}
        Some(Json::Object(weights)) => {
            merged.named_score_weights = weights
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect();
        }
        Some(_) => return None,
    }
    match o.get("componentResults") {
        None => {}
        Some(Json::Array(items)) => {
            merged.component_results = items.iter().map(component_from_json).collect();
        }
        Some(_) => return None,
    }
    Some(merged)
}

fn failed(mut grading: GradingResult, message: &str) -> GradingResult {
    grading.pass = false;
    grading.score = 0.0;
    grading.reason = format!("Scoring function error: {message}");
    grading
}

/// A component result as scripts see it.
fn component_json(c: &ComponentResult) -> Json {
    json!({
        "pass": c.pass,
        "score": crate::number(c.score),
        "reason": c.reason,
        "assertion": c.assertion.as_ref(),
    })
}

/// A component result a scoring function returned.
fn component_from_json(v: &Json) -> ComponentResult {
    let assertion = v.get("assertion").cloned().unwrap_or(Json::Null);
    ComponentResult {
        pass: v.get("pass").and_then(Json::as_bool).unwrap_or(false),
        score: v.get("score").and_then(Json::as_f64).unwrap_or(0.0),
        reason: v
            .get("reason")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
        weight: assertion
            .get("weight")
            .and_then(Json::as_f64)
            .unwrap_or(1.0),
        metric: assertion
            .get("metric")
            .and_then(Json::as_str)
            .map(str::to_owned),
        assertion: Arc::new(assertion),
        tokens: Default::default(),
        named_scores: Default::default(),
        named_score_weights: Default::default(),
        component_results: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::{Assertion, aggregate};

    fn graded() -> GradingResult {
        let a = Assertion::new("contains", Some(json!("x"))).with_metric("accuracy");
        let b = Assertion::new("equals", Some(json!("y"))).with_metric("style");
        aggregate(
            vec![
                a.verdict(true, 1.0, "ok".into(), Default::default()),
                b.verdict(false, 0.0, "no".into(), Default::default()),
            ],
            None,
        )
    }

    #[test]
    fn specs_split_as_promptfoo_splits_them() {
        assert_eq!(split_spec("file://s.js:score"), Ok(("s.js", Some("score"))));
        assert_eq!(split_spec("file://dir/s.py"), Ok(("dir/s.py", None)));
        assert!(split_spec("s.js").is_err());
        assert!(split_spec("file://s.txt").is_err());
    }

    #[tokio::test]
    async fn a_javascript_function_decides_from_named_scores_and_components() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.js"),
            "module.exports.lenient = (scores, ctx) => ({pass: scores.accuracy >= 1, \
             score: (scores.accuracy + scores.style) / 2, \
             reason: `components: ${ctx.componentResults.length}, threshold: ${ctx.threshold}`});\n\
             module.exports.func = () => 42;\n",
        )
        .unwrap();
        let g = apply("file://s.js:lenient", graded(), Some(0.5), dir.path()).await;
        assert_eq!(
            (g.pass, g.score, g.reason.as_str()),
            (true, 0.5, "components: 2, threshold: 0.5")
        );
        assert_eq!(g.component_results.len(), 2, "kept when not returned");
        // `func` is the default export's name; 42 is not a grading result.
        let g = apply("file://s.js", graded(), None, dir.path()).await;
        assert_eq!(
            (g.pass, g.score, g.reason.as_str()),
            (
                false,
                0.0,
                "Scoring function error: assertion scoring function must return a GradingResult"
            )
        );
        std::fs::write(
            dir.path().join("t.js"),
            "module.exports = () => { throw new Error('no scores'); };",
        )
        .unwrap();
        let g = apply("file://t.js", graded(), None, dir.path()).await;
        assert_eq!(g.reason, "Scoring function error: no scores");
    }

    #[tokio::test]
    async fn a_python_function_gets_the_same_arguments() {
        if std::process::Command::new("python3")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipped: no python3");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("s.py"),
            "def func(scores, ctx):\n    return {'pass': True, 'score': scores['style'] + 0.25, \
             'reason': str(len(ctx['componentResults'])), 'namedScores': {'total': 3}}\n",
        )
        .unwrap();
        let g = apply("file://s.py", graded(), None, dir.path()).await;
        assert_eq!((g.pass, g.score, g.reason.as_str()), (true, 0.25, "2"));
        assert_eq!(g.named_scores.get("total"), Some(&3.0));
    }
}
