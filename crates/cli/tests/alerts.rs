//! `promptops alerts` against the real `promptops serve` (SQLite): a version promoted
//! over one that behaved better fires error-rate and latency regressions, listed as a
//! table and as JSON, delivered signed to a webhook subscribed with `--event
//! alert.fired`; the settings read and changed from the terminal.

mod support;

use serde_json::{Value, json};
use support::receiver::{receiver, wait_for};
use support::{ADMIN_PASSWORD, As, project, serve};
use tempfile::TempDir;

/// Reports `n` calls of support.answer `version` in prod: one in `error_every` fails,
/// latencies spread over `[latency, latency + spread)` ms.
fn report(url: &str, key: &str, version: &str, error_every: u64, (latency, spread): (u64, u64)) {
    let events: Vec<Value> = (0..400u64)
        .map(|i| {
            let mut e = json!({
                "id": format!("{version}-{i}"),
                "prompt_id": "support.answer",
                "version": version,
                "environment": "prod",
                "model": "gpt-4o-mini",
                "input_tokens": 500,
                "output_tokens": 100,
                "latency_ms": latency + i % spread,
            });
            if i % error_every == 0 {
                e["error"] = json!("upstream timeout");
            }
            e
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{url}/v1/projects/demo/events"))
            .bearer_auth(key)
            .json(&events)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 202);
}

#[test]
fn a_regression_fires_lists_and_reaches_a_webhook() {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    // The receiver is on 127.0.0.1; evaluations happen when the test asks.
    let toml = repo.join("promptops.toml");
    let mut text = std::fs::read_to_string(&toml).unwrap();
    text.push_str(
        "\n[server]\nwebhook_allow_private = true\nfeed_poll_ms = 50\nalert_interval_secs = 0\n",
    );
    std::fs::write(&toml, text).unwrap();
    let server = serve(&repo, &[]);
    let admin = As::login(&repo, &server.url, "admin", ADMIN_PASSWORD);
    admin.ok(&["push"]);
    admin.ok(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--version",
        "1.0.0",
    ]);

    let (url, got) = receiver();
    let o = admin.run(&[
        "webhook",
        "add",
        &url,
        "--event",
        "alert.fired",
        "--event",
        "alert.resolved",
    ]);
    assert!(o.status.success(), "{}", support::text(&o));
    let secret = String::from_utf8(o.stdout).unwrap().trim().to_owned();
    let key = admin
        .ok(&["key", "create", "--name", "app", "--role", "ingest"])
        .trim()
        .to_owned();

    // 1.0.0: 1% errors, 90–110 ms. Then 1.1.0 replaces it: 10% errors, 270–330 ms.
    report(&server.url, &key, "1.0.0", 100, (90, 21));
    assert!(
        admin
            .ok(&["alerts", "evaluate"])
            .contains("0 fired, 0 resolved, 0 firing")
    );
    admin.push_answer_version(
        "1.1.0",
        "Never invent prices",
        "Never invent prices or fees",
    );
    // The version given as ID@VERSION.
    admin.ok(&["promote", "support.answer@1.1.0", "--to", "prod"]);
    report(&server.url, &key, "1.1.0", 10, (270, 61));

    let evaluated = admin.ok(&["alerts", "evaluate"]);
    assert!(
        evaluated.contains("evaluated 1 prompt × environment pair: 2 fired, 0 resolved, 2 firing"),
        "{evaluated}"
    );

    let table = admin.ok(&["alerts"]);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{table}");
    for kind in ["error_rate_regression", "latency_regression"] {
        let row = rows
            .iter()
            .find(|r| r.contains(kind))
            .unwrap_or_else(|| panic!("no {kind} row:\n{table}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cells[1..6],
            ["firing", kind, "support.answer", "prod", "1.1.0"],
            "{table}"
        );
        assert!(row.contains("than 1.0.0"), "{row}");
    }
    assert!(
        table.contains("error rate 10.0% (40/400) against 1.0% (4/400) for 1.0.0"),
        "{table}"
    );
    let listed: Value =
        serde_json::from_str(&admin.ok(&["alerts", "--json", "--env", "prod"])).unwrap();
    let mut kinds: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["error_rate_regression", "latency_regression"]);
    assert!(
        admin
            .ok(&["alerts", "--state", "resolved"])
            .contains("no resolved alerts in demo")
    );
    assert!(
        admin
            .ok(&["alerts", "--prompt", "other.prompt"])
            .contains("no firing alerts in demo")
    );

    // Delivered signed, one per alert.
    wait_for(&got, 2);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (headers, body) in got.lock().unwrap().iter() {
        let h = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        promptops_api::webhooks::verify_signature(
            &secret,
            &h("promptops-signature"),
            body.as_bytes(),
            now,
            300,
        )
        .unwrap();
        assert_eq!(h("promptops-event"), "alert.fired");
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["data"]["version"], "1.1.0");
        assert_eq!(body["data"]["baseline_version"], "1.0.0");
    }

    // Settings: read, changed by key, refused when wrong.
    let settings = admin.ok(&["alerts", "settings"]);
    assert!(
        settings.contains("min_sample") && settings.contains("200"),
        "{settings}"
    );
    admin.ok(&[
        "alerts",
        "settings",
        "--set",
        "min_sample=300",
        "--set",
        "alpha=0.001",
    ]);
    let now_set = admin.json(&["alerts", "settings"]);
    assert_eq!(
        (&now_set["min_sample"], &now_set["alpha"]),
        (&json!(300), &json!(0.001))
    );
    let refused = admin.refused(&["alerts", "settings", "--set", "alpha=7"]);
    assert!(refused.contains("`alpha` is 7"), "{refused}");
    let o = admin.run(&["alerts", "--state", "burning"]);
    assert_eq!(o.status.code(), Some(2), "{}", support::text(&o));
}
