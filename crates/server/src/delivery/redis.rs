//! Redis as the delivery cache shared by replicas and the channel that tells every
//! replica a change was committed. Every operation is bounded in time: a Redis that
//! stops answering costs a request at most [`OP_TIMEOUT`], and the request falls through
//! to the database.
//!
//! Keys live under `promptops:<registry id>:` so registries sharing a Redis never see
//! each other's answers. An answer is written only if it is not older than the one
//! there (a Lua script compares the change-feed positions), so two replicas writing in
//! either order leave the newest.

use super::answer::Answer;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::time::Duration;

/// The longest one Redis operation may take before it counts as a failure.
pub const OP_TIMEOUT: Duration = Duration::from_millis(250);

/// Sets `KEYS[1]` to `ARGV[2]` unless what is there was read at a later feed position
/// than `ARGV[1]` (the value starts with its position and a newline).
const SET_IF_NEWER: &str = r"
local current = redis.call('GET', KEYS[1])
if current then
  local seq = tonumber(string.match(current, '^(%d+)\n'))
  if seq and seq > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
";

/// Why a Redis operation did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// The shared cache and change channel of one registry.
#[derive(Clone)]
pub struct RedisLayer {
    client: redis::Client,
    manager: ConnectionManager,
    namespace: String,
    set_if_newer: Script,
}

impl std::fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisLayer({})", self.namespace)
    }
}

async fn bounded<T>(op: impl Future<Output = redis::RedisResult<T>>) -> Result<T, RedisError> {
    match tokio::time::timeout(OP_TIMEOUT, op).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(RedisError::Timeout(OP_TIMEOUT)),
    }
}

impl RedisLayer {
    /// Connects lazily (a Redis that is down at start is not an error: it is a source
    /// that does not answer yet) for the registry `registry_id`.
    pub fn new(url: &str, registry_id: &str) -> Result<RedisLayer, RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(RedisLayer {
            client,
            manager,
            namespace: format!("promptops:{registry_id}"),
            set_if_newer: Script::new(SET_IF_NEWER),
        })
    }

    fn answer_key(&self, project: &str, env: &str, prompt_key: &str) -> String {
        format!("{}:answer:{project}:{env}:{prompt_key}", self.namespace)
    }

    /// The channel every replica announces committed feed positions on.
    pub fn channel(&self) -> String {
        format!("{}:changes", self.namespace)
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.manager.clone();
        bounded(redis::cmd("PING").query_async::<String>(&mut conn))
            .await
            .map(drop)
    }

    pub async fn get_answer(
        &self,
        project: &str,
        env: &str,
        prompt_key: &str,
    ) -> Result<Option<Answer>, RedisError> {
        let mut conn = self.manager.clone();
        let key = self.answer_key(project, env, prompt_key);
        let bytes: Option<Vec<u8>> = bounded(conn.get(key)).await?;
        Ok(bytes.and_then(|b| Answer::from_redis(&b)))
    }

    /// Keeps `answer` unless Redis holds one read later.
    pub async fn put_answer(
        &self,
        project: &str,
        env: &str,
        prompt_key: &str,
        answer: &Answer,
    ) -> Result<(), RedisError> {
        let mut conn = self.manager.clone();
        let key = self.answer_key(project, env, prompt_key);
        let mut invocation = self.set_if_newer.key(key);
        invocation.arg(answer.seq).arg(answer.to_redis());
        bounded(invocation.invoke_async::<i64>(&mut conn))
            .await
            .map(drop)
    }

    /// Tells every replica the feed reaches `seq`.
    pub async fn announce(&self, seq: u64) -> Result<(), RedisError> {
        let mut conn = self.manager.clone();
        bounded(conn.publish::<_, _, i64>(self.channel(), seq))
            .await
            .map(drop)
    }
}
