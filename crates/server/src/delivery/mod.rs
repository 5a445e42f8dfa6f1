//! The delivery path: what an environment serves, answered from memory.
//!
//! Sources, in order: this process's memory (pre-serialised answers, `ETag` = content
//! hash; verified API keys too) → Redis (shared by replicas) → the database → the last
//! good copy in memory, marked stale. Every answer says where it came from
//! (`Promptops-Source`).
//!
//! Caches follow the one change feed ([`promptops_store::Change`]): before a cache is
//! trusted, [`Delivery::sync`] applies every change committed so far — by this process
//! (the store's `committed` watch, so a revoked key or a moved label takes effect on the
//! very next request) or announced by another replica (Redis pub/sub, or the feed
//! polled from the database when Redis is away). Invalidation is bookkeeping only (no
//! I/O on the request path); [`follow`] then refreshes answers, writes them to Redis,
//! announces the change to other replicas and to the watch stream.

mod answer;
pub mod follow;
pub mod redis;

pub use answer::Answer;

use crate::auth::Principal;
use promptops_api::Version;
use promptops_core::prompt::id::comparable;
use promptops_store::{Change, ChangeKind, Store, StoreError};
use redis::RedisLayer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{Mutex, Notify, broadcast, watch};

/// The longest a delivery read waits for the database before it counts as down.
pub const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Memory,
    Redis,
    Database,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Redis => "redis",
            Source::Database => "database",
        }
    }
}

/// An answer to send, where it came from, and whether it may be out of date.
pub struct Served {
    pub answer: Arc<Answer>,
    pub source: Source,
    /// No source that could confirm it is current answers: `Warning: 110`.
    pub stale: bool,
}

/// Why an answer could not be given.
#[derive(Debug)]
pub enum Unavailable {
    /// The store's own refusal (unknown project, prompt, environment, nothing served).
    Store(StoreError),
    /// No source answers and memory has no copy.
    NoSource,
}

/// One label move, as the watch stream tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelEvent {
    pub seq: u64,
    pub project: String,
    pub environment: String,
    pub prompt: String,
    pub version: String,
    pub content_hash: String,
}

/// A verified API key: what it grants and when it stops.
#[derive(Debug)]
pub struct CachedKey {
    /// SHA-256 of the whole key (compared as bytes: no hex on the hot path).
    pub secret_digest: promptops_core::canonical::ContentHash,
    pub principal: Arc<Principal>,
    /// Epoch seconds.
    pub expires_at: Option<i64>,
    pub owner: String,
    /// Epoch seconds of the last use written to the store.
    pub touched: AtomicU64,
}

/// Answers by `project:env:prompt_key`, and the feed position of the last change that
/// touched each key: an answer read before that position is stale.
#[derive(Default)]
struct Answers {
    by_key: HashMap<String, Arc<Answer>>,
    moved_at: HashMap<String, u64>,
}

impl Answers {
    fn is_fresh(&self, key: &str, answer: &Answer) -> bool {
        answer.seq >= self.moved_at.get(key).copied().unwrap_or(0)
    }
}

/// The delivery caches of one server process.
pub struct Delivery<S> {
    store: Arc<S>,
    redis: Option<RedisLayer>,
    answers: RwLock<Answers>,
    keys: RwLock<HashMap<String, Arc<CachedKey>>>,
    /// The feed position of the last key or user change applied.
    keys_changed_at: AtomicU64,
    /// Every change up to here is applied to the caches.
    applied: AtomicU64,
    /// What this process committed (the store's watch).
    committed: watch::Receiver<u64>,
    /// What other replicas announced, or the feed showed when polled.
    heard: AtomicU64,
    catching_up: Mutex<()>,
    /// Label moves applied but not yet refreshed and told.
    moved: std::sync::Mutex<Vec<Change>>,
    events: broadcast::Sender<Arc<LabelEvent>>,
    db_up: AtomicBool,
    redis_up: AtomicBool,
    /// Wakes the follower (shared with it, which holds the caches only weakly).
    wake: Arc<Notify>,
}

fn answer_key(project: &str, env: &str, prompt_key: &str) -> String {
    let mut key = String::with_capacity(project.len() + env.len() + prompt_key.len() + 2);
    key.push_str(project);
    key.push(':');
    key.push_str(env);
    key.push(':');
    key.push_str(prompt_key);
    key
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // The caches hold no invariant a panicking writer could break halfway.
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: Store> Delivery<S> {
    /// Caches over `store` (and `redis`), keeping `watch_buffer` label moves for each
    /// watcher that has not read them yet.
    pub fn new(store: Arc<S>, redis: Option<RedisLayer>, watch_buffer: usize) -> Delivery<S> {
        let committed = store.committed();
        let start = *committed.borrow();
        Delivery {
            store,
            redis,
            answers: RwLock::default(),
            keys: RwLock::default(),
            keys_changed_at: AtomicU64::new(0),
            applied: AtomicU64::new(start),
            committed,
            heard: AtomicU64::new(start),
            catching_up: Mutex::new(()),
            moved: std::sync::Mutex::default(),
            events: broadcast::channel(watch_buffer.max(1)).0,
            db_up: AtomicBool::new(true),
            redis_up: AtomicBool::new(true),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn redis(&self) -> Option<&RedisLayer> {
        self.redis.as_ref()
    }

    /// The label moves told so far and from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LabelEvent>> {
        self.events.subscribe()
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    pub fn db_up(&self) -> bool {
        self.db_up.load(Ordering::Acquire)
    }

    pub fn redis_up(&self) -> bool {
        self.redis.is_some() && self.redis_up.load(Ordering::Acquire)
    }

    pub(crate) fn set_db_up(&self, up: bool) {
        if up && !self.db_up.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        } else if !up {
            self.db_up.store(false, Ordering::Release);
        }
    }

    pub(crate) fn set_redis_up(&self, up: bool) {
        self.redis_up.store(up, Ordering::Release);
    }

    /// Another replica (or a poll) says the feed reaches `seq`.
    pub(crate) fn heard_of(&self, seq: u64) {
        if self.heard.fetch_max(seq, Ordering::AcqRel) < seq {
            self.wake.notify_one();
        }
    }

    /// Memory answers cannot be confirmed: the database is down and no Redis answers.
    fn unconfirmed(&self) -> bool {
        !self.db_up() && !self.redis_up()
    }

    /// Applies every change known to be committed before the caches are read. Cheap
    /// when nothing is new (two atomic loads); a change of this process's is always
    /// known, so it takes effect on the very next request.
    pub async fn sync(&self) {
        let target = (*self.committed.borrow()).max(self.heard.load(Ordering::Acquire));
        if self.applied.load(Ordering::Acquire) >= target || !self.db_up() {
            return;
        }
        self.catch_up().await;
    }

    /// Reads the feed from the last applied position and applies it (invalidation only:
    /// no I/O beyond the feed itself). Returns whether anything was applied.
    pub async fn catch_up(&self) -> bool {
        let _one_at_a_time = self.catching_up.lock().await;
        let mut advanced = false;
        loop {
            let from = self.applied.load(Ordering::Acquire);
            let read = tokio::time::timeout(DB_TIMEOUT, self.store.changes_after(from, 512)).await;
            let changes = match read {
                Ok(Ok(changes)) => changes,
                Ok(Err(e)) => {
                    tracing::warn!("delivery: the change feed cannot be read: {e}");
                    self.set_db_up(false);
                    break;
                }
                Err(_) => {
                    tracing::warn!("delivery: the change feed did not answer in {DB_TIMEOUT:?}");
                    self.set_db_up(false);
                    break;
                }
            };
            let Some(last) = changes.last().map(|c| c.seq) else {
                break;
            };
            for change in changes {
                self.invalidate(&change);
            }
            self.applied.fetch_max(last, Ordering::AcqRel);
            self.heard.fetch_max(last, Ordering::AcqRel);
            advanced = true;
        }
        if advanced {
            self.wake.notify_one();
        }
        advanced
    }

    /// What one change makes stale.
    fn invalidate(&self, change: &Change) {
        match &change.kind {
            ChangeKind::LabelMoved {
                project,
                prompt,
                environment,
                ..
            } => {
                let key = answer_key(project, environment, &comparable(prompt));
                write(&self.answers).moved_at.insert(key, change.seq);
                self.moved
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(change.clone());
            }
            ChangeKind::ProjectChanged { project } => {
                let prefix = format!("{project}:");
                let mut answers = write(&self.answers);
                let keys: Vec<String> = answers
                    .by_key
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .cloned()
                    .collect();
                for key in keys {
                    answers.moved_at.insert(key, change.seq);
                }
            }
            ChangeKind::KeyCreated { prefix } | ChangeKind::KeyRevoked { prefix } => {
                self.keys_changed_at.fetch_max(change.seq, Ordering::AcqRel);
                write(&self.keys).remove(prefix);
            }
            ChangeKind::UserChanged { user } => {
                self.keys_changed_at.fetch_max(change.seq, Ordering::AcqRel);
                write(&self.keys).retain(|_, k| &k.owner != user);
            }
            ChangeKind::VersionPublished { .. }
            | ChangeKind::PolicyChanged { .. }
            | ChangeKind::Other { .. } => {}
        }
    }

    /// The label moves applied since the last call, in order (for the follower).
    pub(crate) fn take_moves(&self) -> Vec<Change> {
        std::mem::take(
            &mut *self
                .moved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub(crate) fn tell(&self, event: LabelEvent) {
        // No watcher is not an error.
        let _ = self.events.send(Arc::new(event));
    }

    // ----- answers -------------------------------------------------------------------

    /// A current answer from memory alone (call [`Delivery::sync`] first): no I/O.
    pub fn from_memory(&self, project: &str, env: &str, id: &str) -> Option<Served> {
        let key = answer_key(project, env, &comparable(id));
        let answers = read(&self.answers);
        let answer = answers.by_key.get(&key)?;
        answers.is_fresh(&key, answer).then(|| Served {
            answer: answer.clone(),
            source: Source::Memory,
            stale: self.unconfirmed(),
        })
    }

    /// What `env` of `project` serves for prompt `id`, from the first source that has
    /// a current answer.
    pub async fn resolve(&self, project: &str, env: &str, id: &str) -> Result<Served, Unavailable> {
        self.sync().await;
        let key = answer_key(project, env, &comparable(id));
        let cached = {
            let answers = read(&self.answers);
            answers
                .by_key
                .get(&key)
                .map(|a| (a.clone(), answers.is_fresh(&key, a)))
        };
        if let Some((answer, true)) = &cached {
            return Ok(Served {
                answer: answer.clone(),
                source: Source::Memory,
                stale: self.unconfirmed(),
            });
        }
        if let Some(answer) = self.read_redis(project, env, &key).await {
            return Ok(Served {
                answer,
                source: Source::Redis,
                stale: false,
            });
        }
        match self.read_database(project, env, id, &key).await {
            Ok(answer) => Ok(Served {
                answer,
                source: Source::Database,
                stale: false,
            }),
            Err(Unavailable::NoSource) => match cached {
                Some((answer, _)) => Ok(Served {
                    answer,
                    source: Source::Memory,
                    stale: true,
                }),
                None => Err(Unavailable::NoSource),
            },
            Err(e) => Err(e),
        }
    }

    async fn read_redis(&self, project: &str, env: &str, key: &str) -> Option<Arc<Answer>> {
        let redis = self.redis.as_ref()?;
        let prompt_key = key.rsplit(':').next()?;
        match redis.get_answer(project, env, prompt_key).await {
            Ok(Some(answer)) => {
                self.set_redis_up(true);
                let mut answers = write(&self.answers);
                if !answers.is_fresh(key, &answer) {
                    return None;
                }
                let answer = Arc::new(answer);
                answers.by_key.insert(key.to_owned(), answer.clone());
                Some(answer)
            }
            Ok(None) => {
                self.set_redis_up(true);
                None
            }
            Err(e) => {
                tracing::debug!("delivery: redis: {e}");
                self.set_redis_up(false);
                None
            }
        }
    }

    async fn read_database(
        &self,
        project: &str,
        env: &str,
        id: &str,
        key: &str,
    ) -> Result<Arc<Answer>, Unavailable> {
        if !self.db_up() {
            return Err(Unavailable::NoSource);
        }
        // The position before the read: a change applied after it makes this answer stale.
        let seq = self.applied();
        let version =
            match tokio::time::timeout(DB_TIMEOUT, self.store.resolve(project, id, env)).await {
                Ok(Ok(version)) => version,
                Ok(Err(StoreError::Database(e))) => {
                    tracing::warn!("delivery: the database does not answer: {e}");
                    self.set_db_up(false);
                    return Err(Unavailable::NoSource);
                }
                Ok(Err(e)) => return Err(Unavailable::Store(e)),
                Err(_) => {
                    self.set_db_up(false);
                    return Err(Unavailable::NoSource);
                }
            };
        let answer = Arc::new(self.make_answer(version, env, seq)?);
        self.keep(project, env, key, answer.clone());
        Ok(answer)
    }

    fn make_answer(&self, version: Version, env: &str, seq: u64) -> Result<Answer, Unavailable> {
        Answer::of(version, env, seq).ok_or_else(|| {
            Unavailable::Store(StoreError::Corrupt {
                detail: "a stored version cannot be answered".into(),
            })
        })
    }

    /// Keeps a database answer in memory and, in the background, in Redis.
    fn keep(&self, project: &str, env: &str, key: &str, answer: Arc<Answer>) {
        write(&self.answers)
            .by_key
            .insert(key.to_owned(), answer.clone());
        if let Some(redis) = self.redis.clone().filter(|_| self.redis_up()) {
            let (project, env) = (project.to_owned(), env.to_owned());
            let prompt_key = key.rsplit(':').next().unwrap_or_default().to_owned();
            tokio::spawn(async move {
                if let Err(e) = redis.put_answer(&project, &env, &prompt_key, &answer).await {
                    tracing::debug!("delivery: redis: {e}");
                }
            });
        }
    }

    /// Reads what `env` serves for `prompt` now and keeps it (the follower's refresh).
    pub(crate) async fn refresh(&self, project: &str, env: &str, prompt: &str) {
        let key = answer_key(project, env, &comparable(prompt));
        let _ = self.read_database(project, env, prompt, &key).await;
    }

    // ----- keys ------------------------------------------------------------------------

    /// A verified key from memory (after [`Delivery::sync`]).
    pub fn cached_key(&self, prefix: &str) -> Option<Arc<CachedKey>> {
        read(&self.keys).get(prefix).cloned()
    }

    /// The feed position a key lookup starts at (pass it to [`Delivery::keep_key`]).
    pub fn key_epoch(&self) -> u64 {
        self.applied()
    }

    /// Remembers a key verified against the store at `epoch`, unless a key or user
    /// change was applied since (it may no longer hold).
    pub fn keep_key(&self, prefix: &str, key: CachedKey, epoch: u64) {
        if self.keys_changed_at.load(Ordering::Acquire) > epoch {
            return;
        }
        write(&self.keys).insert(prefix.to_owned(), Arc::new(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_keys_cannot_collide_across_parts() {
        // Names hold no `:`, so the joined key names one triple.
        assert_eq!(answer_key("a", "prod", "x.y"), "a:prod:x.y");
        assert_ne!(answer_key("a", "b", "c"), answer_key("a:b", "", "c"));
    }
}
