//! The Rust runtime SDK against the real `promptops serve`: typed prompts rendered as
//! `promptops render` renders them, answered from memory once read, moved by the watch
//! stream, a budget the registry cannot stretch, the disk snapshot through a cold start
//! with the registry down, typed errors, and bundles (made, verified, refused when a
//! byte changes, loaded offline).

mod support;

use promptops_client::sdk::{Client, SdkError};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::{As, Server, project, serve};
use tempfile::TempDir;

/// A registry with support.answer 1.0.0 and 1.1.0 published, 1.0.0 in prod, and a
/// viewer's key.
struct Setup {
    server: Server,
    admin: As,
    key: String,
    _tmp: TempDir,
}

fn setup() -> Setup {
    let tmp = TempDir::new().unwrap();
    let repo = project(&tmp);
    let server = serve(&repo, &[]);
    let admin = As::login(&repo, &server.url, "admin", support::ADMIN_PASSWORD);
    admin.ok(&["push"]);
    let file = repo.join("prompts/support/answer.yaml");
    let v1 = std::fs::read_to_string(&file).unwrap();
    admin.push_answer_version("1.1.0", "Answer only", "Answer briefly, only");
    // The file is 1.0.0 again: `promptops render` of it is what prod serves first.
    std::fs::write(&file, v1).unwrap();
    admin.ok(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--version",
        "1.0.0",
    ]);
    let key = admin
        .ok(&["key", "create", "--name", "app", "--role", "viewer"])
        .trim()
        .to_owned();
    Setup {
        server,
        admin,
        key,
        _tmp: tmp,
    }
}

fn vars() -> Value {
    json!({"article": "Refunds take 5 days.", "question": "How long do refunds take?"})
}

/// What `promptops render` prints for the repo's prompt file with `vars()`.
fn cli_render(admin: &As) -> Value {
    admin.json(&[
        "render",
        "prompts/support/answer.yaml",
        "--var",
        "article=Refunds take 5 days.",
        "--var",
        "question=How long do refunds take?",
    ])["rendered"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_renders_like_the_cli_is_cached_and_follows_moves() {
    let s = setup();
    let client = Client::builder(&s.server.url)
        .api_key(&s.key)
        .build()
        .unwrap();
    let prompt = client
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(prompt.id(), "support.answer");
    assert_eq!(prompt.version(), "1.0.0");
    assert_eq!(prompt.environment(), "prod");
    assert_eq!(prompt.model()["name"], "gpt-4o-mini");
    assert_eq!(prompt.variables()["company"]["default"], "Acme");
    let rendered = serde_json::to_value(prompt.render(vars()).unwrap()).unwrap();
    assert_eq!(rendered, cli_render(&s.admin), "one renderer");
    match prompt.render(json!({"article": "x"})) {
        Err(SdkError::Render(m)) => assert!(m.contains("question"), "{m}"),
        other => panic!("a missing required variable: {other:?}"),
    }

    // A move is pushed to the client: its next gets serve the new version.
    s.admin.ok(&[
        "promote",
        "support.answer",
        "--to",
        "prod",
        "--version",
        "1.1.0",
    ]);
    let start = Instant::now();
    loop {
        let p = client
            .prompt("support.answer")
            .env("prod")
            .get()
            .await
            .unwrap();
        if p.version() == "1.1.0" {
            let text = serde_json::to_string(&p.render(vars()).unwrap()).unwrap();
            assert!(text.contains("Answer briefly"), "{text}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the move reached the client"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Typed errors.
    match client.prompt("support.nothing").env("prod").get().await {
        Err(SdkError::NotFound {
            id, environment, ..
        }) => {
            assert_eq!(
                (id.as_str(), environment.as_str()),
                ("support.nothing", "prod")
            )
        }
        other => panic!("an unknown prompt: {other:?}"),
    }
    let stranger = Client::builder(&s.server.url)
        .api_key("po_notarealkey_0000000000000000000000")
        .project("demo")
        .build()
        .unwrap();
    assert!(matches!(
        stranger.prompt("support.answer").get().await,
        Err(SdkError::Unauthorized(_))
    ));
    assert!(matches!(
        Client::builder("localhost:1").build(),
        Err(SdkError::Config(_))
    ));

    // Cached: with the registry gone, what was read is still answered.
    drop(s.server);
    let p = client
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(p.version(), "1.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_with_the_registry_down_serves_the_snapshot_within_budget() {
    let s = setup();
    let snapshots = TempDir::new().unwrap();
    let warm = Client::builder(&s.server.url)
        .api_key(&s.key)
        .snapshot_dir(snapshots.path())
        .build()
        .unwrap();
    let read = warm
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    let url = s.server.url.clone();
    drop(s.server);

    // A new process: nothing in memory, the registry refuses connections.
    let cold = Client::builder(&url)
        .api_key(&s.key)
        .project("demo")
        .snapshot_dir(snapshots.path())
        .build()
        .unwrap();
    let p = cold
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(p.version(), read.version());
    assert_eq!(p.content_hash(), read.content_hash());

    // Without a snapshot: a typed error naming the budget, not a hang.
    let bare = Client::builder(&url)
        .api_key(&s.key)
        .project("demo")
        .build()
        .unwrap();
    match bare.prompt("support.answer").env("prod").get().await {
        Err(SdkError::Unavailable { budget, .. }) => assert_eq!(budget, Duration::from_millis(500)),
        other => panic!("no source: {other:?}"),
    }

    // A registry that accepts connections and never answers costs the budget, then
    // the last good copy answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let slow = Client::builder(&silent_url)
        .api_key(&s.key)
        .project("demo")
        .timeout(Duration::from_millis(200))
        .snapshot_dir(snapshots.path())
        .build()
        .unwrap();
    let start = Instant::now();
    let p = slow
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(p.version(), read.version());
    // Generous: the point is that it does not wait for the server (which never answers).
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // A damaged snapshot is no copy.
    for entry in walk(snapshots.path()) {
        std::fs::write(&entry, b"{\"id\": \"support.answer\"").unwrap();
    }
    let damaged = Client::builder(&url)
        .api_key(&s.key)
        .project("demo")
        .snapshot_dir(snapshots.path())
        .build()
        .unwrap();
    assert!(matches!(
        damaged.prompt("support.answer").env("prod").get().await,
        Err(SdkError::Unavailable { .. })
    ));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_checked_signed_and_served_offline() {
    let s = setup();
    let dir = TempDir::new().unwrap();
    let plain = dir.path().join("prod.bundle");
    let out = s
        .admin
        .ok(&["bundle", "--env", "prod", "-o", plain.to_str().unwrap()]);
    assert!(out.contains("1 prompt(s)"), "{out}");
    let verified = s
        .admin
        .json(&["bundle", "--verify", plain.to_str().unwrap()]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["prompts"][0]["version"], "1.0.0");

    // Offline: the same prompt, rendered the same.
    let offline = Client::from_bundle(&plain).unwrap();
    let p = offline
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(p.version(), "1.0.0");
    assert_eq!(
        serde_json::to_value(p.render(vars()).unwrap()).unwrap(),
        cli_render(&s.admin)
    );
    assert!(matches!(
        offline.prompt("support.answer").env("staging").get().await,
        Err(SdkError::NotFound { .. })
    ));

    // Any flipped byte is refused, by the CLI and by the SDK.
    let bytes = std::fs::read(&plain).unwrap();
    for at in [0, 20, bytes.len() / 2, bytes.len() - 2] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        let file = dir.path().join(format!("damaged-{at}.bundle"));
        std::fs::write(&file, &damaged).unwrap();
        let refused = s
            .admin
            .refused(&["bundle", "--verify", file.to_str().unwrap()]);
        assert!(refused.contains("error"), "byte {at}: {refused}");
        assert!(
            matches!(Client::from_bundle(&file), Err(SdkError::Bundle { .. })),
            "byte {at}"
        );
    }

    // Signed: a key made by the CLI, checked against its public key.
    let key_file = dir.path().join("signing.key");
    let made = s
        .admin
        .json(&["bundle", "--new-signing-key", key_file.to_str().unwrap()]);
    let public = made["public_key"].as_str().unwrap().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the signing key is owner-only");
    }
    let signed = dir.path().join("signed.bundle");
    s.admin.ok(&[
        "bundle",
        "--env",
        "prod",
        "-o",
        signed.to_str().unwrap(),
        "--signing-key",
        key_file.to_str().unwrap(),
    ]);
    let ok = s.admin.json(&[
        "bundle",
        "--verify",
        signed.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert_eq!(ok["signed_by"], public.as_str());
    let unsigned = s.admin.refused(&[
        "bundle",
        "--verify",
        plain.to_str().unwrap(),
        "--public-key",
        &public,
    ]);
    assert!(unsigned.contains("not signed"), "{unsigned}");
    assert!(Client::from_bundle_trusting(&signed, Some(&public)).is_ok());
    assert!(matches!(
        Client::from_bundle_trusting(&plain, Some(&public)),
        Err(SdkError::Bundle { .. })
    ));

    // A bundle as the fallback of an online client whose registry is gone.
    let url = s.server.url.clone();
    drop(s.server);
    let client = Client::builder(&url)
        .api_key(&s.key)
        .project("demo")
        .bundle(&signed)
        .trusted_key(&public)
        .build()
        .unwrap();
    let p = client
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert_eq!(p.version(), "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_are_reported_in_batches_and_read_back_as_metrics() {
    let s = setup();
    let editor = s
        .admin
        .ok(&["key", "create", "--name", "reporter", "--role", "editor"])
        .trim()
        .to_owned();
    let client = Client::builder(&s.server.url)
        .api_key(&s.key)
        .report_key(&editor)
        .report_queue(50)
        .report_batch(20, Duration::from_millis(50))
        .build()
        .unwrap();
    let prompt = client
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    // 80 reports at once into a queue of 50: some are dropped, none blocks.
    let mut queued = 0;
    for i in 0..80u64 {
        let mut e = prompt.execution();
        e.model = Some("gpt-4o-mini".into());
        e.input_tokens = Some(100);
        e.output_tokens = Some(10);
        e.latency_ms = Some(100 + i);
        queued += u64::from(client.report(e));
    }
    let stats = client.flush(Duration::from_secs(20)).await;
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(stats.sent, queued, "{stats:?}");
    assert_eq!(stats.sent + stats.dropped, 80, "{stats:?}");
    assert!(
        stats.dropped > 0,
        "the queue is smaller than the burst: {stats:?}"
    );
    assert_eq!(stats.failed, 0);

    // The registry counts them against prod's version, priced from the table.
    let url = format!(
        "{}/v1/projects/demo/prompts/support.answer/metrics?env=prod&step=day",
        s.server.url
    );
    let mut calls = 0;
    let mut body = Value::Null;
    for _ in 0..100 {
        body = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&editor)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        calls = body["series"][0]["totals"]["calls"].as_u64().unwrap_or(0);
        if calls == queued {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(calls, queued, "{body}");
    assert_eq!(body["series"][0]["version"], "1.0.0");
    let cost = body["series"][0]["totals"]["cost_per_call_usd"]
        .as_f64()
        .unwrap();
    assert!((cost - 0.000021).abs() < 1e-12, "{cost}");

    // A key that may not report: the batch is counted as failed, not retried forever.
    let viewer_only = Client::builder(&s.server.url)
        .api_key(&s.key)
        .build()
        .unwrap();
    let prompt = viewer_only
        .prompt("support.answer")
        .env("prod")
        .get()
        .await
        .unwrap();
    assert!(viewer_only.report(prompt.execution()));
    let stats = viewer_only.flush(Duration::from_secs(20)).await;
    assert_eq!(
        (stats.sent, stats.failed, stats.queued),
        (0, 1, 0),
        "{stats:?}"
    );
}
