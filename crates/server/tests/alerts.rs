//! Alerts end to end through the HTTP API, on SQLite and PostgreSQL: events reported for
//! two versions around a promotion, `POST …/alerts/evaluate`, the alerts listed, the
//! signed `alert.fired`/`alert.resolved` webhooks; the cases that must not fire (the
//! same behaviour, too few calls), cost budgets per call and per day, output drift, the
//! settings, and the refusals.

mod common;

use axum::http::StatusCode;
use common::Api;
use common::hooks::{Receiver, assert_signed};
use promptops_core::clock::{now_millis, rfc3339_at};
use serde_json::{Value, json};

const PROMPT: &str = "support.answer";
const ALERTS: &str = "/v1/projects/acme/alerts";
const EVALUATE: &str = "/v1/projects/acme/alerts/evaluate";

fn settings() -> promptops_server::Settings {
    promptops_server::Settings {
        webhook_allow_private: true,
        webhook_retry_ms: vec![50, 50],
        feed_poll_ms: 20,
        // The tests evaluate on demand; a background run would race them harmlessly,
        // but they should see only their own doing.
        alert_interval_secs: 0,
        ..promptops_server::Settings::default()
    }
}

fn source(prompt: &str, version: &str, metrics: &str) -> String {
    format!(
        "id: {prompt}\nversion: {version}\nowner: team\ndescription: Answers.\nmodel: openai:gpt-4o-mini\n\
         template: \"Answer {version}: {{{{ question }}}}\"\nvariables:\n  question: string\n{metrics}"
    )
}

async fn publish(api: &Api, prompt: &str, version: &str, metrics: &str) {
    let r = api
        .post(
            &format!("/v1/projects/acme/prompts/{prompt}/versions"),
            json!({"source": source(prompt, version, metrics)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn promote(api: &Api, prompt: &str, version: &str) {
    let r = api
        .post(
            &format!("/v1/projects/acme/prompts/{prompt}/promote"),
            json!({"environment": "prod", "version": version}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// What to report: `n` calls of `version` in prod.
struct Calls<'a> {
    prompt: &'a str,
    version: &'a str,
    n: u64,
    /// One call in this many fails (0: none).
    error_every: u64,
    /// Latency spread evenly over `[from, from + spread)` ms.
    latency: (u64, u64),
    /// Output tokens spread the same way.
    output_tokens: (u64, u64),
    cost_usd: Option<f64>,
    /// When they happened (unix ms); `None`: when reported.
    at_ms: Option<i64>,
}

impl Default for Calls<'_> {
    fn default() -> Self {
        Calls {
            prompt: PROMPT,
            version: "1.0.0",
            n: 400,
            error_every: 0,
            latency: (90, 21),
            output_tokens: (100, 21),
            cost_usd: None,
            at_ms: None,
        }
    }
}

async fn report(api: &Api, tag: &str, c: Calls<'_>) {
    let events: Vec<Value> = (0..c.n)
        .map(|i| {
            let mut e = json!({
                "id": format!("{tag}-{}-{i}", c.version),
                "prompt_id": c.prompt,
                "version": c.version,
                "environment": "prod",
                "model": "gpt-4o-mini",
                "input_tokens": 500,
                "output_tokens": c.output_tokens.0 + i % c.output_tokens.1,
                "latency_ms": c.latency.0 + i % c.latency.1,
            });
            if c.error_every > 0 && i % c.error_every == 0 {
                e["error"] = json!("upstream said no");
            }
            if let Some(cost) = c.cost_usd {
                e["cost_usd"] = json!(cost);
            }
            if let Some(ms) = c.at_ms {
                e["timestamp"] = json!(rfc3339_at(ms.div_euclid(1000), 0));
            }
            e
        })
        .collect();
    let r = api.post("/v1/projects/acme/events", json!(events)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["accepted"], c.n, "{}", r.text);
}

async fn evaluate(api: &Api) -> Value {
    let r = api.post(EVALUATE, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// `(kind, version)` of a list of alerts, sorted.
fn kinds(alerts: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ----- scenarios, on both backends ---------------------------------------------------

async fn a_worse_new_version_fires_regressions_and_webhooks(api: Api) {
    api.create_project("acme").await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let r = api
        .post(
            "/v1/projects/acme/webhooks",
            json!({"url": url, "events": ["alert.fired", "alert.resolved"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_owned();

    publish(&api, PROMPT, "1.0.0", "").await;
    publish(&api, PROMPT, "1.1.0", "").await;
    promote(&api, PROMPT, "1.0.0").await;
    // 1.0.0: 400 calls, 1% errors, 90–110 ms.
    report(
        &api,
        "a",
        Calls {
            error_every: 100,
            ..Calls::default()
        },
    )
    .await;
    // Nothing to compare yet: 1.0.0 replaced nothing.
    let first = evaluate(&api).await;
    assert_eq!(first["fired"], json!([]), "{first}");
    assert_eq!(first["evaluated"], 1);

    promote(&api, PROMPT, "1.1.0").await;
    // 1.1.0: 400 calls, 10% errors, 270–330 ms.
    report(
        &api,
        "b",
        Calls {
            version: "1.1.0",
            error_every: 10,
            latency: (270, 61),
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    let fired = pairs(&[
        ("error_rate_regression", "1.1.0"),
        ("latency_regression", "1.1.0"),
    ]);
    assert_eq!(kinds(&done["fired"]), fired, "{done}");
    assert_eq!(kinds(&done["firing"]), fired, "{done}");
    let errors = done["fired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "error_rate_regression")
        .unwrap()
        .clone();
    assert_eq!(errors["baseline_version"], "1.0.0");
    assert_eq!(errors["state"], "firing");
    assert_eq!(errors["prompt_id"], PROMPT);
    assert_eq!(errors["environment"], "prod");
    assert_eq!(errors["measured"]["error_rate"], 0.1);
    assert_eq!(errors["measured"]["baseline_error_rate"], 0.01);
    assert_eq!(errors["measured"]["calls"], 400.0);
    assert!(
        errors["test"]
            .as_str()
            .unwrap()
            .starts_with("two-proportion z-test")
    );
    // z = 5.58 for 40/400 against 4/400 (see core::stats): p ≈ 1.2e-8.
    let p = errors["p_value"].as_f64().unwrap();
    assert!(p > 1e-9 && p < 1e-7, "{p}");
    assert!(
        errors["summary"]
            .as_str()
            .unwrap()
            .contains("error rate 10.0% (40/400) against 1.0% (4/400) for 1.0.0"),
        "{errors}"
    );
    let latency = done["fired"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "latency_regression")
        .unwrap()
        .clone();
    assert!(
        latency["test"]
            .as_str()
            .unwrap()
            .starts_with("Mann–Whitney U")
    );
    assert!(
        latency["measured"]["p95_ratio"].as_f64().unwrap() > 2.5,
        "{latency}"
    );

    // Listed, by state and by filter.
    let r = api.get(&format!("{ALERTS}?state=firing")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(kinds(&r.body), fired);
    let r = api.get(&format!("{ALERTS}?state=firing&env=staging")).await;
    assert_eq!(r.body, json!([]));
    let r = api.get(&format!("{ALERTS}?prompt={PROMPT}&env=prod")).await;
    assert_eq!(kinds(&r.body), fired);

    // Signed webhooks, one per alert.
    let got = receiver.wait_for("two alert.fired", |g| g.len() >= 2).await;
    for r in &got {
        assert_signed(r, &secret);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "alert.fired");
        assert_eq!(r.headers["promptops-event"], "alert.fired");
        assert_eq!(body["project"], "acme");
        assert_eq!(body["data"]["prompt"], PROMPT);
        assert_eq!(body["data"]["environment"], "prod");
        assert_eq!(body["data"]["version"], "1.1.0");
        assert_eq!(body["data"]["baseline_version"], "1.0.0");
        assert_eq!(body["data"]["actor"], "promptops-alerts");
        assert!(body["data"]["summary"].as_str().unwrap().contains("1.1.0"));
    }

    // Evaluated again: still firing, not fired twice.
    let again = evaluate(&api).await;
    assert_eq!(again["fired"], json!([]), "{again}");
    assert_eq!(kinds(&again["firing"]), fired);

    // Rolled back: prod no longer serves 1.1.0, so both resolve.
    let r = api
        .post(
            &format!("/v1/projects/acme/prompts/{PROMPT}/rollback"),
            json!({"environment": "prod"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = evaluate(&api).await;
    assert_eq!(kinds(&after["resolved"]), fired, "{after}");
    assert_eq!(after["firing"], json!([]));
    for a in after["resolved"].as_array().unwrap() {
        assert_eq!(a["state"], "resolved");
        assert!(a["resolved_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            a["resolution"], "prod now serves support.answer 1.0.0",
            "{a}"
        );
    }
    let r = api.get(&format!("{ALERTS}?state=resolved")).await;
    assert_eq!(kinds(&r.body), fired);
    let got = receiver
        .wait_for("two alert.resolved", |g| g.len() >= 4)
        .await;
    let resolved: Vec<Value> = got
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap())
        .filter(|b| b["type"] == "alert.resolved")
        .collect();
    assert_eq!(resolved.len(), 2);
    assert!(resolved.iter().all(|b| b["data"]["state"] == "resolved"));

    // Recorded in the audit log, chain intact.
    let r = api.get("/v1/audit/verify").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
}

async fn the_same_behaviour_or_too_few_calls_fire_nothing(api: Api) {
    api.create_project("acme").await;
    publish(&api, PROMPT, "1.0.0", "").await;
    publish(&api, PROMPT, "1.1.0", "").await;
    promote(&api, PROMPT, "1.0.0").await;
    report(
        &api,
        "a",
        Calls {
            error_every: 100,
            ..Calls::default()
        },
    )
    .await;
    promote(&api, PROMPT, "1.1.0").await;
    // The same error rate and latency as 1.0.0.
    report(
        &api,
        "b",
        Calls {
            version: "1.1.0",
            error_every: 100,
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    assert_eq!(done["fired"], json!([]), "{done}");

    // A third version, far worse, but with 100 calls (the default minimum is 200).
    publish(&api, PROMPT, "1.2.0", "").await;
    promote(&api, PROMPT, "1.2.0").await;
    report(
        &api,
        "c",
        Calls {
            version: "1.2.0",
            n: 100,
            error_every: 2,
            latency: (900, 50),
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    assert_eq!(done["fired"], json!([]), "{done}");

    // With a minimum sample of 50, the same calls are enough.
    let r = api
        .put_as(
            &api.admin,
            "/v1/projects/acme/alerts/settings",
            json!({"min_sample": 50}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["min_sample"], 50);
    assert_eq!(r.body["alpha"], 0.01, "left out: the default");
    let done = evaluate(&api).await;
    assert_eq!(
        kinds(&done["fired"]),
        pairs(&[
            ("error_rate_regression", "1.2.0"),
            ("latency_regression", "1.2.0")
        ]),
        "{done}"
    );
    assert_eq!(done["fired"][0]["baseline_version"], "1.1.0");

    // Turning regressions off resolves them.
    let r = api
        .put_as(
            &api.admin,
            "/v1/projects/acme/alerts/settings",
            json!({"min_sample": 50, "regression": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let done = evaluate(&api).await;
    assert_eq!(done["resolved"].as_array().unwrap().len(), 2, "{done}");
    assert_eq!(
        done["resolved"][0]["resolution"],
        "regression alerts were turned off for the project"
    );
}

async fn cost_budgets_per_call_and_per_day(api: Api) {
    // The day's spend starts again at 00:00 UTC: do not straddle it.
    let into_day = now_millis().rem_euclid(86_400_000);
    if into_day > 86_400_000 - 60_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            (86_400_000 - into_day + 1_000) as u64,
        ))
        .await;
    }
    api.create_project("acme").await;
    publish(
        &api,
        PROMPT,
        "1.0.0",
        "metrics:\n  max_cost_per_call_usd: 0.001\n  max_cost_per_day_usd: 0.05\n",
    )
    .await;
    promote(&api, PROMPT, "1.0.0").await;
    // 20 calls at $0.002: twice the per-call budget; $0.04 of the day's $0.05.
    report(
        &api,
        "a",
        Calls {
            n: 20,
            cost_usd: Some(0.002),
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    assert_eq!(
        kinds(&done["fired"]),
        pairs(&[("cost_per_call", "1.0.0")]),
        "{done}"
    );
    let alert = &done["fired"][0];
    assert_eq!(alert["measured"]["cost_per_call_usd"], 0.002);
    assert_eq!(alert["measured"]["budget_usd"], 0.001);
    assert!(alert.get("test").is_none(), "a budget is no test: {alert}");
    assert_eq!(
        alert["summary"],
        "support.answer@1.0.0 in prod: mean cost per call $0.002 over the last hour (20 calls) is above metrics.max_cost_per_call_usd $0.001"
    );

    // 10 more: $0.06 today.
    report(
        &api,
        "b",
        Calls {
            n: 10,
            cost_usd: Some(0.002),
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    assert_eq!(
        kinds(&done["fired"]),
        pairs(&[("cost_per_day", "1.0.0")]),
        "{done}"
    );
    assert!(
        done["fired"][0]["summary"].as_str().unwrap().contains(
            "$0.06 spent today (UTC, 30 calls) is above metrics.max_cost_per_day_usd $0.05"
        ),
        "{done}"
    );

    // 270 cheap calls bring the mean to $0.00029 ($0.087 / 300): the per-call alert
    // resolves, the day's spend stays over.
    report(
        &api,
        "c",
        Calls {
            n: 270,
            cost_usd: Some(0.0001),
            ..Calls::default()
        },
    )
    .await;
    let done = evaluate(&api).await;
    assert_eq!(
        kinds(&done["resolved"]),
        pairs(&[("cost_per_call", "1.0.0")]),
        "{done}"
    );
    assert!(
        done["resolved"][0]["resolution"]
            .as_str()
            .unwrap()
            .starts_with(
                "mean cost per call $0.00029 over the last hour is within the budget $0.001"
            ),
        "{done}"
    );
    assert_eq!(kinds(&done["firing"]), pairs(&[("cost_per_day", "1.0.0")]));
}

async fn output_lengths_that_shift_fire_drift(api: Api) {
    api.create_project("acme").await;
    publish(&api, PROMPT, "1.0.0", "").await;
    publish(&api, "support.steady", "1.0.0", "").await;
    promote(&api, PROMPT, "1.0.0").await;
    promote(&api, "support.steady", "1.0.0").await;
    let three_hours_ago = now_millis() - 3 * 3_600_000;
    // The reference: ~100 tokens three hours ago; now: ~400 tokens.
    report(
        &api,
        "ref",
        Calls {
            n: 300,
            at_ms: Some(three_hours_ago),
            ..Calls::default()
        },
    )
    .await;
    report(
        &api,
        "now",
        Calls {
            n: 300,
            output_tokens: (380, 41),
            ..Calls::default()
        },
    )
    .await;
    // A prompt whose lengths did not move.
    for (tag, at_ms) in [("ref", Some(three_hours_ago)), ("now", None)] {
        report(
            &api,
            tag,
            Calls {
                prompt: "support.steady",
                n: 300,
                at_ms,
                ..Calls::default()
            },
        )
        .await;
    }
    let done = evaluate(&api).await;
    assert_eq!(done["evaluated"], 2);
    assert_eq!(
        kinds(&done["fired"]),
        pairs(&[("output_drift", "1.0.0")]),
        "{done}"
    );
    let drift = &done["fired"][0];
    assert_eq!(drift["prompt_id"], PROMPT);
    assert_eq!(drift["measured"]["d"], 1.0);
    assert_eq!(drift["measured"]["reference_calls"], 300.0);
    assert!(
        drift["test"]
            .as_str()
            .unwrap()
            .starts_with("two-sample Kolmogorov–Smirnov")
    );
    assert!(drift["p_value"].as_f64().unwrap() < 1e-50, "{drift}");
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let api = crate::common::Api::with_options(super::settings()).await;
                    super::$scenario(api).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let schema = format!("alerts_{}_{}", std::process::id(), stringify!($scenario).chars().take(24).collect::<String>());
                    let guard = crate::common::PgSchema(schema.clone());
                    let store = match promptops_store::SqlStore::postgres_in(&crate::common::pg_url(), Some(&schema), 4).await {
                        Ok(s) => s,
                        Err(e) if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none() => {
                            eprintln!("skipped {}: PostgreSQL not reachable ({e})", stringify!($scenario));
                            return;
                        }
                        Err(e) => panic!("PostgreSQL required: {e}"),
                    };
                    let api = crate::common::Api::over(store, tempfile::tempdir().unwrap(), super::settings()).await;
                    super::$scenario(api).await;
                    drop(guard);
                }
            )*
        }
    };
}

on_both_backends!(
    a_worse_new_version_fires_regressions_and_webhooks,
    the_same_behaviour_or_too_few_calls_fire_nothing,
    cost_budgets_per_call_and_per_day,
    output_lengths_that_shift_fire_drift,
);

// ----- refusals --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_settings_and_roles_are_refused() {
    let api = Api::with_options(settings()).await;
    api.create_project("acme").await;
    for (query, says) in [
        (
            "?state=burning",
            "state `burning`: use `firing`, `resolved` or `all`",
        ),
        ("?limit=0", "limit 0: ask for 1 to 1000 alerts"),
        ("?limit=5000", "limit 5000"),
        ("?limit=many", ""),
    ] {
        let r = api.get(&format!("{ALERTS}{query}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
        assert_eq!(r.content_type, "application/problem+json");
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{query}: {}",
            r.text
        );
    }
    let r = api.get("/v1/projects/nowhere/alerts").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = api
        .post("/v1/projects/nowhere/alerts/evaluate", json!({}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    let settings_uri = "/v1/projects/acme/alerts/settings";
    let r = api.get(settings_uri).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (
            &r.body["min_sample"],
            &r.body["alpha"],
            &r.body["min_error_rate_increase"],
            &r.body["min_latency_p95_ratio"]
        ),
        (&json!(200), &json!(0.01), &json!(0.01), &json!(1.2))
    );
    for (body, says) in [
        (json!({"alpha": 2}), "`alpha` is 2"),
        (json!({"alpha": 0}), "`alpha` is 0"),
        (
            json!({"min_sample": 3}),
            "`min_sample` is 3; it must be 10 to 10000000",
        ),
        (
            json!({"min_latency_p95_ratio": 0.5}),
            "`min_latency_p95_ratio`",
        ),
        (json!({"baseline_hours": 0}), "`baseline_hours` is 0"),
        (json!({"min_drift_distance": 1.5}), "`min_drift_distance`"),
    ] {
        let r = api.put_as(&api.admin, settings_uri, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert!(
            r.body["detail"].as_str().unwrap().contains(says),
            "{body}: {}",
            r.text
        );
    }
    // Unknown fields and wrong types are not guessed at.
    for body in [json!({"alhpa": 0.05}), json!({"alpha": "low"})] {
        let r = api.put_as(&api.admin, settings_uri, body.clone()).await;
        assert!(
            r.status.is_client_error() && r.status != StatusCode::NOT_FOUND,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.content_type, "application/problem+json");
    }
    // Nothing was stored by the refusals.
    assert_eq!(api.get(settings_uri).await.body["alpha"], 0.01);

    // Viewers read alerts and settings; only admins change settings; approvers evaluate.
    let viewer = api.user_with_role("vera", "acme", "viewer").await;
    let editor = api.user_with_role("eddie", "acme", "editor").await;
    let approver = api.user_with_role("abby", "acme", "approver").await;
    assert_eq!(api.get_as(&viewer, ALERTS).await.status, StatusCode::OK);
    assert_eq!(
        api.get_as(&viewer, settings_uri).await.status,
        StatusCode::OK
    );
    let r = api
        .put_as(&approver, settings_uri, json!({"alpha": 0.05}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api.post_as(&editor, EVALUATE, json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api.post_as(&approver, EVALUATE, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["evaluated"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_task_evaluates_without_being_asked() {
    let api = Api::with_options(promptops_server::Settings {
        alert_interval_secs: 1,
        ..settings()
    })
    .await;
    api.create_project("acme").await;
    publish(
        &api,
        PROMPT,
        "1.0.0",
        "metrics:\n  max_cost_per_call_usd: 0.001\n",
    )
    .await;
    promote(&api, PROMPT, "1.0.0").await;
    report(
        &api,
        "a",
        Calls {
            n: 20,
            cost_usd: Some(0.002),
            ..Calls::default()
        },
    )
    .await;
    // No evaluate call: the task runs every second; wait (up to 20 s) for its result.
    for _ in 0..200 {
        let r = api.get(&format!("{ALERTS}?state=firing")).await;
        if r.body.as_array().is_some_and(|a| !a.is_empty()) {
            assert_eq!(kinds(&r.body), pairs(&[("cost_per_call", "1.0.0")]));
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the background evaluation fired nothing in 20 s");
}
