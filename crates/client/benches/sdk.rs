//! The runtime SDK's two promises (issue 13), measured:
//! - a cached `get` costs at most 1 µs (no I/O, no await point);
//! - a cold start from the disk snapshot with the registry down — a new client, its
//!   first `get` refused by the registry's closed port, the snapshot read, parsed and
//!   checked — costs at most 5 ms.
//!
//! `cargo bench -p promptops-client --bench sdk` prints both next to their limits.

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt;
use promptops_api::Resolved;
use promptops_client::bundle::{self, Contents};
use promptops_client::sdk::Client;
use promptops_core::canonical;
use promptops_core::validate::{Rules, check_source};
use std::hint::black_box;
use std::time::Duration;

const PROMPT: &str = r#"id: support.answer
version: 1.0.0
owner: support-platform
description: Answers a customer's question from the help-centre article it is given.
model:
  provider: openai
  name: gpt-4o-mini
  params: {temperature: 0.2, max_tokens: 400}
messages:
  - role: system
    content: |
      You are a support agent for {{ company }}. Answer only from the article below.
      If the article does not answer the question, say you will pass it to a colleague.
      Never invent prices, dates or policies.

      Article:
      {{ article }}
  - role: user
    content: "{{ question }}"
variables:
  company: {type: string, default: Acme}
  article: {type: string, required: true}
  question: {type: string, required: true}
tags: [support, rag]
"#;

/// What the registry answers for the prompt above in prod.
fn resolved() -> Resolved {
    let report = check_source("bench.yaml", None, PROMPT.as_bytes(), &Rules::default());
    let prompt = report.valid_prompt().expect("the bench prompt is valid");
    let content: serde_json::Value =
        serde_json::from_str(&canonical::canonical_json(prompt)).unwrap();
    Resolved {
        id: "support.answer".into(),
        environment: "prod".into(),
        version: "1.0.0".into(),
        content_hash: canonical::content_hash(prompt).to_string(),
        model: content["model"].clone(),
        variables: content["variables"].clone(),
        content,
    }
}

fn cached_get(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.bundle");
    let contents = Contents {
        project: "demo".into(),
        environment: "prod".into(),
        created_at: "2026-12-03T00:00:00.000Z".into(),
        prompts: vec![resolved()],
    };
    std::fs::write(&path, bundle::write(&contents, None).unwrap()).unwrap();
    let client = Client::from_bundle(&path).unwrap();
    c.bench_function("cached get (limit 1 µs)", |b| {
        b.iter(|| {
            client
                .prompt(black_box("support.answer"))
                .env("prod")
                .get()
                .now_or_never()
                .expect("a hit never waits")
                .unwrap()
        })
    });
}

fn cold_start_from_snapshot(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The snapshot's layout (docs/delivery.md): <dir>/<environment>/<id>.json.
    std::fs::create_dir_all(dir.path().join("prod")).unwrap();
    std::fs::write(
        dir.path().join("prod/support.answer.json"),
        serde_json::to_vec(&resolved()).unwrap(),
    )
    .unwrap();
    // Nothing listens there: the registry is down.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    c.bench_function(
        "cold start from the snapshot, registry down (limit 5 ms)",
        |b| {
            b.iter(|| {
                rt.block_on(async {
                    let client = Client::builder(&down)
                        .api_key("po_bench")
                        .project("demo")
                        .snapshot_dir(dir.path())
                        .watch(false)
                        .build()
                        .unwrap();
                    client
                        .prompt("support.answer")
                        .env("prod")
                        .get()
                        .await
                        .unwrap()
                })
            })
        },
    );
}

criterion_group! {
    name = sdk;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = cached_get, cold_start_from_snapshot
}
criterion_main!(sdk);
