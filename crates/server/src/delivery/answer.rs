//! A resolve answer, made once: the JSON body as bytes and its `ETag`, so a cache hit
//! serialises nothing.

use axum::body::Bytes;
use axum::http::HeaderValue;
use promptops_api::{Resolved, Version};
use serde_json::Value as Json;

/// What `GET …/environments/{env}/prompts/{id}` answers, ready to send.
#[derive(Debug)]
pub struct Answer {
    pub body: Bytes,
    /// `"<content hash>"`.
    pub etag: HeaderValue,
    pub content_hash: String,
    pub version: String,
    /// The change-feed position this answer was read at (orders writes to Redis).
    pub seq: u64,
}

impl Answer {
    /// The answer for what `environment` serves: `version`.
    pub fn of(version: Version, environment: &str, seq: u64) -> Option<Answer> {
        let content = version.content;
        let model = content.get("model").cloned().unwrap_or(Json::Null);
        let variables = content
            .get("variables")
            .cloned()
            .unwrap_or_else(|| Json::Object(Default::default()));
        let resolved = Resolved {
            id: version.id,
            environment: environment.to_owned(),
            version: version.version,
            content_hash: version.content_hash,
            model,
            variables,
            content,
        };
        let body = serde_json::to_vec(&resolved).ok()?;
        Answer::from_parts(
            Bytes::from(body),
            resolved.content_hash,
            resolved.version,
            seq,
        )
    }

    /// An answer from its stored parts (a Redis copy).
    pub fn from_parts(
        body: Bytes,
        content_hash: String,
        version: String,
        seq: u64,
    ) -> Option<Answer> {
        let etag = HeaderValue::from_str(&format!("\"{content_hash}\"")).ok()?;
        Some(Answer {
            body,
            etag,
            content_hash,
            version,
            seq,
        })
    }

    /// Whether an `If-None-Match` header value names this answer (weak comparison, `*`
    /// matches).
    pub fn matches(&self, if_none_match: &HeaderValue) -> bool {
        let Ok(text) = if_none_match.to_str() else {
            return false;
        };
        text.split(',').map(str::trim).any(|tag| {
            tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == self.content_hash
        })
    }

    /// The Redis form: `seq`, content hash, version, then the body.
    pub fn to_redis(&self) -> Vec<u8> {
        let mut out =
            format!("{}\n{}\n{}\n", self.seq, self.content_hash, self.version).into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// Reads the Redis form back (`None`: not one of ours).
    pub fn from_redis(bytes: &[u8]) -> Option<Answer> {
        let mut parts = bytes.splitn(4, |b| *b == b'\n');
        let seq = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let hash = std::str::from_utf8(parts.next()?).ok()?.to_owned();
        let version = std::str::from_utf8(parts.next()?).ok()?.to_owned();
        let body = Bytes::copy_from_slice(parts.next()?);
        Answer::from_parts(body, hash, version, seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Answer::from_parts(
            Bytes::from_static(b"{\"id\":\"a.b\"}\nwith a newline"),
            "abc123".into(),
            "1.2.0".into(),
            42,
        )
        .unwrap()
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let a = answer();
        let h = HeaderValue::from_static;
        assert!(a.matches(&h("\"abc123\"")));
        assert!(a.matches(&h("W/\"abc123\"")));
        assert!(a.matches(&h("\"x\", \"abc123\"")));
        assert!(a.matches(&h("*")));
        assert!(!a.matches(&h("\"abc\"")));
    }

    #[test]
    fn the_redis_form_round_trips_and_refuses_what_is_not_ours() {
        let a = answer();
        let back = Answer::from_redis(&a.to_redis()).unwrap();
        assert_eq!(back.body, a.body, "a body with newlines survives");
        assert_eq!((back.seq, back.version.as_str()), (42, "1.2.0"));
        assert_eq!(back.etag, a.etag);
        assert!(Answer::from_redis(b"garbage").is_none());
        assert!(Answer::from_redis(b"x\nh\nv\n{}").is_none());
    }
}
