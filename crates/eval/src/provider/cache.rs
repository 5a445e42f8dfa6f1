//! On-disk cache of successful provider answers, so running a suite again does not pay
//! for (or wait on) calls whose request has not changed, as promptfoo's cache does.
//!
//! An entry is keyed by the SHA-256 of the canonical JSON of what decides the request:
//! the provider id and model, its config merged with the test's options (credentials and
//! rate settings left out: a new key or a new rate gives the same answer), the rendered
//! prompt, and what else shapes the request: the environment settings the provider reads
//! (`OPENAI_BASE_URL`, ...) and, for the `http` provider, the rendered request. Entries
//! live in `<dir>/<first two hex digits>/<hash>.json`, so no directory grows huge; each is
//! written to a temporary file and renamed into place, so a reader never sees half an
//! entry, and an entry that does not parse is a miss (and is overwritten by the next
//! successful call). The cache is best effort: a directory that cannot be written only
//! means answers are not kept.

use super::{HttpMeta, Response, TokenUsage};
use crate::pricing::NanoUsd;
use serde_json::{Map, Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped when the entry layout changes, so old entries are misses, not misreads.
const FORMAT: u64 = 1;

/// Why an entry could not be written.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot write the response cache entry {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The hex SHA-256 naming one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a provider call is keyed on.
pub struct KeyParts<'a> {
    /// `call` for answers, `embed` for embeddings: the same text is a different request.
    pub operation: &'a str,
    pub provider_id: &'a str,
    pub model: Option<&'a str>,
    /// The provider config with the test's options merged in.
    pub config: &'a Map<String, Json>,
    pub prompt: &'a str,
    /// Whatever else decides the request (credentials are dropped from it too).
    pub request: Json,
}

impl KeyParts<'_> {
    pub fn key(&self) -> CacheKey {
        let mut config = Map::new();
        for (k, v) in self.config {
            if !super::rate_limit::RATE_KEYS.contains(&k.as_str()) && !is_credential(k) {
                config.insert(k.clone(), without_credentials(v));
            }
        }
        let what = json!({
            "format": FORMAT,
            "operation": self.operation,
            "provider": self.provider_id,
            "model": self.model,
            "config": config,
            "prompt": self.prompt,
            "request": without_credentials(&self.request),
        });
        let text = promptops_core::canonical::value_json(&what);
        CacheKey(promptops_core::canonical::sha256_hex(text))
    }
}

/// Config keys (at any depth, e.g. inside `headers`) whose values are credentials.
pub fn is_credential(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "apikey",
        "api_key",
        "api-key",
        "secret",
        "password",
        // AWS: `sessionToken`, `accessKeyId` (with `secretAccessKey` above).
        "sessiontoken",
        "session_token",
        "accesskeyid",
        "access_key_id",
    ]
    .iter()
    .any(|part| k.contains(part))
        || [
            "authorization",
            "proxy-authorization",
            "cookie",
            "token",
            "access_token",
            "accesstoken",
        ]
        .contains(&k.as_str())
}

fn without_credentials(value: &Json) -> Json {
    match value {
        Json::Object(map) => Json::Object(
            map.iter()
                .filter(|(k, _)| !is_credential(k))
                .map(|(k, v)| (k.clone(), without_credentials(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.iter().map(without_credentials).collect()),
        other => other.clone(),
    }
}

/// Whether the environment allows the cache: `PROMPTFOO_CACHE_ENABLED=false` (promptfoo's
/// switch) or `PROMPTOPS_CACHE=0`/`false` turn it off.
pub fn enabled_by_env(env: impl Fn(&str) -> Option<String>) -> bool {
    let off = |name: &str| {
        env(name).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "off"
            )
        })
    };
    !off("PROMPTFOO_CACHE_ENABLED") && !off("PROMPTOPS_CACHE")
}

/// `PROMPTOPS_CACHE_DIR`, else `$XDG_CACHE_HOME/promptops/responses`, else
/// `~/.cache/promptops/responses`; `None` when there is no home to put it in.
pub fn default_dir(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(dir) = set("PROMPTOPS_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    // The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    if let Some(xdg) = set("XDG_CACHE_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Some(Path::new(&xdg).join("promptops").join("responses"));
    }
    set("HOME").map(|home| Path::new(&home).join(".cache/promptops/responses"))
}

#[derive(Debug)]
pub struct ResponseCache {
    dir: PathBuf,
}

impl ResponseCache {
    /// A cache in `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> ResponseCache {
        ResponseCache { dir: dir.into() }
    }

    /// The cache for a run: `wanted` is false for `--no-cache` or `evaluateOptions.cache:
    /// false`; the process environment can also turn it off or move it.
    pub fn for_run(wanted: bool) -> Option<ResponseCache> {
        let env = |name: &str| std::env::var(name).ok();
        if !wanted || !enabled_by_env(env) {
            return None;
        }
        default_dir(env).map(ResponseCache::new)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `key` lives.
    pub fn path(&self, key: &CacheKey) -> PathBuf {
        let hex = key.as_str();
        self.dir.join(&hex[..2]).join(format!("{hex}.json"))
    }

    /// The stored answer, if there is a readable one.
    pub fn get_response(&self, key: &CacheKey) -> Option<Response> {
        decode_response(&self.read(key)?)
    }

    /// Stores a successful answer.
    pub fn put_response(&self, key: &CacheKey, response: &Response) -> Result<(), CacheError> {
        self.write(key, &encode_response(response))
    }

    /// The stored embedding and the token usage of the call that made it.
    pub fn get_embedding(&self, key: &CacheKey) -> Option<(Vec<f64>, TokenUsage)> {
        let entry = self.read(key)?;
        let vector = entry
            .get("embedding")?
            .as_array()?
            .iter()
            .map(Json::as_f64)
            .collect::<Option<Vec<f64>>>()?;
        Some((vector, decode_usage(entry.get("tokenUsage")?)?))
    }

    pub fn put_embedding(
        &self,
        key: &CacheKey,
        vector: &[f64],
        usage: TokenUsage,
    ) -> Result<(), CacheError> {
        self.write(
            key,
            &json!({"format": FORMAT, "embedding": vector, "tokenUsage": encode_usage(usage)}),
        )
    }

    fn read(&self, key: &CacheKey) -> Option<Json> {
        let bytes = std::fs::read(self.path(key)).ok()?;
        let entry: Json = serde_json::from_slice(&bytes).ok()?;
        (entry.get("format").and_then(Json::as_u64) == Some(FORMAT)).then_some(entry)
    }

    /// Writes a temporary file next to the entry, then renames it over the entry: a
    /// rename within a directory is atomic, so concurrent runs and readers see the old
    /// entry or the new one, never a torn one.
    fn write(&self, key: &CacheKey, entry: &Json) -> Result<(), CacheError> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let path = self.path(key);
        let failed = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        let shard = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(shard).map_err(failed)?;
        let temp = shard.join(format!(
            ".{}.{}.{}.tmp",
            key.as_str(),
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        ));
        let written =
            std::fs::write(&temp, entry.to_string()).and_then(|()| std::fs::rename(&temp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(failed(e));
        }
        Ok(())
    }
}

fn encode_usage(u: TokenUsage) -> Json {
    json!({"prompt": u.prompt, "completion": u.completion, "total": u.total, "cached": u.cached, "numRequests": u.num_requests})
}

fn decode_usage(v: &Json) -> Option<TokenUsage> {
    let n = |k: &str| v.get(k).and_then(Json::as_u64);
    Some(TokenUsage {
        prompt: n("prompt")?,
        completion: n("completion")?,
        total: n("total")?,
        cached: n("cached")?,
        num_requests: n("numRequests")?,
    })
}

fn encode_response(r: &Response) -> Json {
    json!({
        "format": FORMAT,
        "output": r.output,
        "tokenUsage": encode_usage(r.token_usage),
        "finishReason": r.finish_reason,
        "costNanoUsd": r.cost.map(|c| c.0),
        "http": r.http.as_ref().map(|h| json!({
            "status": h.status,
            "statusText": h.status_text,
            "headers": h.headers,
        })),
        "guardrails": r.guardrails,
        "logProbs": r.logprobs,
    })
}

fn decode_response(v: &Json) -> Option<Response> {
    let http = match v.get("http")? {
        Json::Null => None,
        h => Some(HttpMeta {
            status: u16::try_from(h.get("status")?.as_u64()?).ok()?,
            status_text: h.get("statusText")?.as_str()?.to_owned(),
            headers: serde_json::from_value(h.get("headers")?.clone()).ok()?,
        }),
    };
    Some(Response {
        output: Some(v.get("output")?.clone()).filter(|o| !o.is_null()),
        error: None,
        token_usage: decode_usage(v.get("tokenUsage")?)?,
        finish_reason: v
            .get("finishReason")
            .and_then(Json::as_str)
            .map(str::to_owned),
        cost: v.get("costNanoUsd").and_then(Json::as_i64).map(NanoUsd),
        http,
        guardrails: v.get("guardrails")?.as_bool()?,
        cached: false,
        latency_ms: None,
        logprobs: v
            .get("logProbs")
            .and_then(|l| serde_json::from_value(l.clone()).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(config: &'a Map<String, Json>, prompt: &'a str) -> KeyParts<'a> {
        KeyParts {
            operation: "call",
            provider_id: "openai:chat:m",
            model: Some("m"),
            config,
            prompt,
            request: Json::Null,
        }
    }

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn key_ignores_credentials_rates_and_key_order_but_not_settings() {
        let a = map(
            json!({"temperature": 0, "apiKey": "sk-1", "headers": {"Authorization": "Bearer x", "X-Team": "a"}}),
        );
        let b = map(
            json!({"headers": {"X-Team": "a", "authorization": "Bearer y"}, "apiKey": "sk-2", "temperature": 0, "maxRequestsPerMinute": 10}),
        );
        assert_eq!(parts(&a, "hi").key(), parts(&b, "hi").key());
        let c = map(json!({"temperature": 0.5}));
        assert_ne!(parts(&a, "hi").key(), parts(&c, "hi").key());
        assert_ne!(parts(&a, "hi").key(), parts(&a, "hello").key());
        let max_tokens = map(json!({"temperature": 0, "max_tokens": 5}));
        assert_ne!(parts(&a, "hi").key(), parts(&max_tokens, "hi").key());
        // AWS keys (Bedrock) are credentials too; the region is a setting.
        for key in [
            "accessKeyId",
            "secretAccessKey",
            "sessionToken",
            "x-goog-api-key",
        ] {
            assert!(is_credential(key), "{key}");
        }
        assert!(!is_credential("region"));
    }

    #[test]
    fn environment_switches_and_location() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(enabled_by_env(env(&[])));
        assert!(!enabled_by_env(env(&[(
            "PROMPTFOO_CACHE_ENABLED",
            "false"
        )])));
        assert!(!enabled_by_env(env(&[("PROMPTOPS_CACHE", "0")])));
        assert!(enabled_by_env(env(&[("PROMPTOPS_CACHE", "1")])));
        assert_eq!(
            default_dir(env(&[("HOME", "/home/u"), ("PROMPTOPS_CACHE_DIR", "/c")])),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            default_dir(env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")])),
            Some(PathBuf::from("/x/promptops/responses"))
        );
        assert_eq!(
            default_dir(env(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")])),
            Some(PathBuf::from("/home/u/.cache/promptops/responses"))
        );
        assert_eq!(default_dir(env(&[])), None);
    }

    #[test]
    fn entries_round_trip_are_sharded_and_corrupt_ones_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ResponseCache::new(dir.path());
        let config = Map::new();
        let key = parts(&config, "hi").key();
        let response = Response {
            output: Some(json!({"answer": 42})),
            token_usage: TokenUsage {
                prompt: 3,
                completion: 2,
                total: 5,
                cached: 0,
                num_requests: 1,
            },
            finish_reason: Some("stop".into()),
            cost: Some(NanoUsd(1234)),
            http: Some(HttpMeta {
                status: 200,
                status_text: "OK".into(),
                headers: vec![("x-id".into(), "1".into())],
            }),
            guardrails: true,
            ..Response::default()
        };
        assert_eq!(cache.get_response(&key), None);
        cache.put_response(&key, &response).unwrap();
        let path = cache.path(&key);
        assert_eq!(
            path.parent().unwrap().file_name().unwrap().to_str(),
            Some(&key.as_str()[..2])
        );
        assert_eq!(cache.get_response(&key), Some(response.clone()));

        std::fs::write(&path, "{\"format\": 1, \"output\": tru").unwrap();
        assert_eq!(cache.get_response(&key), None);
        cache.put_response(&key, &response).unwrap();
        assert_eq!(cache.get_response(&key), Some(response));
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary files are left behind");
    }
}
