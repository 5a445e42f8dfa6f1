//! Delivery through outages and across replicas, with real processes: `promptops serve`
//! replicas on one PostgreSQL database and one Redis, both private to the test. Each
//! outage is real (Redis killed, the database refusing every session) and happens
//! under load; every resolve during it must still be a 2xx, saying where it came from.
//! Writes answer 503 during a database outage and work again after it, without a restart.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};
use support::outage::{Database, Redis};
use support::{As, Server, project, serve};
use tempfile::TempDir;

const RESOLVE: &str = "/v1/projects/demo/environments/prod/prompts/support.answer";

/// One registry: its repo, database and Redis, the replicas, the admin's CLI and token,
/// and a viewer key as an application would hold.
struct Registry {
    replicas: Vec<Server>,
    admin: As,
    token: String,
    key: String,
    http: reqwest::Client,
    // Dropped last: the replicas stop before their services go.
    redis: Redis,
    db: Database,
    _tmp: TempDir,
}

fn start_replica(repo: &Path, db: &Database, redis: &Redis) -> Server {
    serve(
        repo,
        &["--database-url", &db.url(), "--redis-url", &redis.url()],
    )
}

impl Registry {
    /// `n` replicas with support.answer 1.0.0 in prod, or `None` when the services are
    /// not here (and not required).
    async fn start(test: &str, n: usize) -> Option<Registry> {
        let redis = Redis::start(test)?;
        let db = Database::create(test)?;
        let tmp = TempDir::new().unwrap();
        let repo = project(&tmp);
        // One after the other: the first creates the schema, the admin and the key file.
        let replicas: Vec<Server> = (0..n).map(|_| start_replica(&repo, &db, &redis)).collect();
        let admin = As::login(&repo, &replicas[0].url, "admin", support::ADMIN_PASSWORD);
        admin.ok(&["push"]);
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
        assert!(key.starts_with("po_"), "a key: {key}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let login: Value = http
            .post(format!("{}/v1/auth/login", replicas[0].url))
            .json(&json!({"user": "admin", "password": support::ADMIN_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        Some(Registry {
            replicas,
            admin,
            token,
            key,
            http,
            redis,
            db,
            _tmp: tmp,
        })
    }

    /// Starts one more replica on the same database and Redis.
    fn add_replica(&mut self) {
        let replica = start_replica(&self.admin.repo, &self.db, &self.redis);
        self.replicas.push(replica);
    }

    /// Publishes `version` of support.answer (another text each time).
    fn publish(&self, version: &str) {
        self.admin
            .push_answer_version(version, "Answer", &format!("Answer (v{version})"));
    }

    /// Moves prod to `version` through replica `i`'s API: the status and body.
    async fn promote(&self, i: usize, version: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!(
                "{}/v1/projects/demo/prompts/support.answer/promote",
                self.replicas[i].url
            ))
            .bearer_auth(&self.token)
            .json(&json!({"environment": "prod", "version": version}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A GET on replica 0 as the admin: the JSON answer.
    async fn api_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.replicas[0].url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// One resolve on replica `i` with the viewer key.
    async fn resolve(&self, i: usize) -> Answer {
        get(
            &self.http,
            &format!("{}{RESOLVE}", self.replicas[i].url),
            &self.key,
        )
        .await
    }

    /// Resolves on replica `i` until it serves `version` (at most 10 s): how long it took.
    async fn until_serves(&self, i: usize, version: &str) -> Duration {
        let start = Instant::now();
        loop {
            let a = self.resolve(i).await;
            if a.version.as_deref() == Some(version) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "replica {i} still serves {:?} (status {}, source {}) 10 s after the move to {version}",
                a.version,
                a.status,
                a.source
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Reads the key once on every replica so each has verified it (a replica cannot
    /// verify a key it has never seen while the database is away).
    async fn introduce_key(&self) {
        for r in &self.replicas {
            let status = self
                .http
                .get(format!("{}/v1/projects/demo", r.url))
                .bearer_auth(&self.key)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::OK);
        }
    }
}

/// What one resolve answered.
#[derive(Debug)]
struct Answer {
    /// 0: no HTTP answer at all.
    status: u16,
    source: String,
    stale: bool,
    version: Option<String>,
}

async fn get(http: &reqwest::Client, url: &str, key: &str) -> Answer {
    match http.get(url).bearer_auth(key).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let header = |name: &str| {
                r.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let source = header("promptops-source").unwrap_or_default();
            let stale = header("warning").is_some_and(|w| w.starts_with("110"));
            let body: Value = r.json().await.unwrap_or(Value::Null);
            Answer {
                status,
                source,
                stale,
                version: body["version"].as_str().map(str::to_owned),
            }
        }
        Err(e) => Answer {
            status: 0,
            source: format!("transport error: {e}"),
            stale: false,
            version: None,
        },
    }
}

/// Resolves under load: 8 callers for `duration`, spread over `replicas`.
#[derive(Debug, Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    sources: BTreeMap<(usize, String), usize>,
    stale: usize,
    versions: BTreeSet<String>,
    failures: Vec<String>,
}

impl Tally {
    fn total(&self) -> usize {
        self.statuses.values().sum()
    }

    fn non_2xx(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    fn from(&self, replica: usize, source: &str) -> usize {
        self.sources
            .get(&(replica, source.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

async fn load(reg: &Registry, replicas: &[usize], duration: Duration) -> Tally {
    let urls: Vec<(usize, String)> = replicas
        .iter()
        .map(|&i| (i, format!("{}{RESOLVE}", reg.replicas[i].url)))
        .collect();
    let mut tasks = Vec::new();
    for caller in 0..8 {
        let (http, key, urls) = (reg.http.clone(), reg.key.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let end = Instant::now() + duration;
            let mut n = caller;
            while Instant::now() < end {
                let (replica, url) = &urls[n % urls.len()];
                n += 1;
                let a = get(&http, url, &key).await;
                *tally.statuses.entry(a.status).or_default() += 1;
                if !(200..300).contains(&a.status) && tally.failures.len() < 5 {
                    tally.failures.push(format!("replica {replica}: {a:?}"));
                }
                *tally.sources.entry((*replica, a.source)).or_default() += 1;
                tally.stale += usize::from(a.stale);
                tally.versions.extend(a.version);
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await.unwrap();
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
        for (k, v) in t.sources {
            *all.sources.entry(k).or_default() += v;
        }
        all.stale += t.stale;
        all.versions.extend(t.versions);
        all.failures.extend(t.failures);
    }
    eprintln!(
        "{} resolves: {:?}; sources {:?}; stale {}",
        all.total(),
        all.statuses,
        all.sources,
        all.stale
    );
    all
}

fn assert_all_2xx(t: &Tally, what: &str) {
    assert!(
        t.total() > 50,
        "{what}: the load ran ({} resolves)",
        t.total()
    );
    assert_eq!(t.non_2xx(), 0, "{what}: every resolve is a 2xx: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_is_served_from_memory_and_redis_and_writes_wait_for_it() {
    let Some(mut reg) = Registry::start("database_down", 1).await else {
        return;
    };
    reg.publish("1.1.0");
    // Replica 0 has the answer in memory (and wrote it to Redis); replica 1 starts
    // after it and has never read it.
    reg.resolve(0).await;
    assert_eq!(reg.resolve(0).await.source, "memory");
    reg.add_replica();
    reg.introduce_key().await;

    reg.db.cut();
    let during = load(&reg, &[0, 1], Duration::from_secs(3)).await;
    assert_all_2xx(&during, "database down");
    assert!(during.from(0, "memory") > 0, "{during:?}");
    assert!(
        during.from(1, "redis") > 0,
        "replica 1 never held it: Redis answered ({during:?})"
    );
    assert_eq!(during.versions, BTreeSet::from(["1.0.0".to_owned()]));

    let (status, problem) = reg.promote(0, "1.1.0").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(
        problem["detail"].as_str().is_some_and(
            |d| d.contains("database is unavailable") && d.contains("nothing was changed")
        ),
        "a reason: {problem}"
    );

    reg.db.restore();
    // The pool reconnects by itself: no restart.
    let start = Instant::now();
    loop {
        let (status, body) = reg.promote(0, "1.1.0").await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "writes work again after the database is back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    reg.until_serves(0, "1.1.0").await;
    reg.until_serves(1, "1.1.0").await;
    // Nothing was lost: both versions, and an intact audit chain.
    let versions = reg
        .api_get("/v1/projects/demo/prompts/support.answer/versions")
        .await;
    assert_eq!(versions.as_array().map(Vec::len), Some(2), "{versions}");
    let verify = reg.api_get("/v1/audit/verify").await;
    assert_eq!(verify["ok"], true, "{verify}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_served_from_the_database_and_moves_still_propagate() {
    let Some(mut reg) = Registry::start("redis_down", 2).await else {
        return;
    };
    reg.publish("1.1.0");
    reg.publish("1.2.0");
    reg.resolve(0).await;
    reg.resolve(1).await;

    reg.redis.kill();
    // A move while Redis is away reaches the other replica through the database's feed.
    let (status, body) = reg.promote(0, "1.1.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let during = load(&reg, &[0, 1], Duration::from_secs(3)).await;
    assert_all_2xx(&during, "redis down");
    // The move reached replica 1 through the polled feed.
    assert_eq!(reg.resolve(1).await.version.as_deref(), Some("1.1.0"));
    // A replica with nothing in memory answers from the database while Redis is away.
    reg.add_replica();
    let fresh = reg.resolve(2).await;
    assert_eq!(
        (
            fresh.status,
            fresh.source.as_str(),
            fresh.version.as_deref()
        ),
        (200, "database", Some("1.1.0"))
    );
    assert_eq!(
        during.sources.keys().filter(|(_, s)| s == "redis").count(),
        0
    );

    reg.redis.restart();
    // Back: moves are announced on Redis again.
    let (status, body) = reg.promote(0, "1.2.0").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    reg.until_serves(1, "1.2.0").await;
    let after = load(&reg, &[0, 1], Duration::from_secs(1)).await;
    assert_all_2xx(&after, "redis back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_down_serve_the_last_good_copy_marked_stale() {
    let Some(mut reg) = Registry::start("both_down", 1).await else {
        return;
    };
    reg.resolve(0).await;
    assert_eq!(reg.resolve(0).await.source, "memory");

    reg.redis.kill();
    reg.db.cut();
    let during = load(&reg, &[0], Duration::from_secs(4)).await;
    assert_all_2xx(&during, "database and redis down");
    assert!(
        during.stale > 0,
        "once the server knows both are away, it says the copy is stale: {during:?}"
    );
    assert_eq!(during.versions, BTreeSet::from(["1.0.0".to_owned()]));

    reg.redis.restart();
    reg.db.restore();
    let start = Instant::now();
    loop {
        let a = reg.resolve(0).await;
        assert_eq!(a.status, 200);
        if !a.stale {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "no longer stale once the sources are back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_serve_a_move_made_on_any_of_them() {
    let Some(reg) = Registry::start("three_replicas", 3).await else {
        return;
    };
    reg.publish("1.1.0");
    for i in 0..3 {
        reg.resolve(i).await;
    }
    let mut took = Vec::new();
    for (round, version) in ["1.1.0", "1.0.0", "1.1.0", "1.0.0", "1.1.0", "1.0.0"]
        .iter()
        .enumerate()
    {
        let from = round % 3;
        let (status, body) = reg.promote(from, version).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for other in (0..3).filter(|i| *i != from) {
            took.push(reg.until_serves(other, version).await);
        }
    }
    // Timing is bench/propagation.sh's to measure; here, that every replica got every move.
    eprintln!("propagation: {took:?}");
    assert_eq!(took.len(), 12);
}
