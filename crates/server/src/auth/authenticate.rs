//! Who the caller is: the middleware every route runs before its handler, and the
//! credentials it accepts — a session token (its session must be live) or an API key
//! (verified once, then from memory until a key or user change says otherwise).

use super::token::TokenKind;
use super::*;
use crate::delivery::CachedKey;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Runs before every routed handler (its route's layer, holding the route's
/// permission): authenticates and authorizes the caller. Nothing here logs a secret: only names and prefixes.
pub async fn enforce<S: Store>(
    State(RouteGuard {
        state,
        permission,
        langfuse,
    }): State<RouteGuard<S>>,
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    mut request: Request,
    next: Next,
) -> Response {
    let params = match params {
        Ok(p) => p,
        // Bad UTF-8 in a path segment: a problem like every other refusal.
        Err(rejection) => {
            return ApiError::bad_request(format!(
                "{}; path segments must be percent-encoded UTF-8",
                rejection.body_text()
            ))
            .into_response();
        }
    };
    let path = matched.as_ref().map_or("", |m| m.as_str());
    let need = permission.need();
    if need == Need::Nothing {
        return next.run(request).await;
    }
    let credentials = request.headers().get(header::AUTHORIZATION);
    let authenticated = if langfuse {
        authenticate_langfuse(&state, credentials).await
    } else {
        authenticate(&state, credentials).await
    };
    let principal = match authenticated {
        Ok(p) => p,
        Err(e) => return with_challenge(e.into_response(), langfuse),
    };
    let project = if langfuse {
        // Langfuse's SDKs name no project: an API key acts in its own.
        match &principal.key {
            Some(key) => Some(key.project.clone()),
            None => {
                return forbidden(
                    "the Langfuse-compatible API acts in an API key's project: use a key (public key = its prefix `po_…`, secret key = the whole key), not a session",
                )
                .into_response();
            }
        }
    } else {
        params
            .iter()
            .find(|(name, _)| *name == "project")
            .map(|(_, value)| value.to_owned())
    };
    if let Err(e) = authorize(&principal, need, project.as_deref()) {
        tracing::info!(caller = %principal.describe(), path, "refused: {}", e.0.detail);
        return e.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn with_challenge(mut response: Response, langfuse: bool) -> Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(if langfuse {
                "Basic realm=\"promptops\""
            } else {
                "Bearer realm=\"promptops\""
            }),
        );
    }
    response
}

/// Who the `Authorization` header of a Langfuse-compatible request says the caller is:
/// `Basic base64(public:secret)` as the Langfuse SDKs send it, where the secret key is
/// a whole API key and the public key its prefix (the part kept in clear), or an API
/// key as a bearer credential. The two keys must agree, so a mistyped pair is refused
/// rather than read as another key.
pub async fn authenticate_langfuse<S: Store>(
    state: &AppState<S>,
    header: Option<&HeaderValue>,
) -> Result<Arc<Principal>, ApiError> {
    use base64::Engine as _;
    const HOW: &str = "the Langfuse SDKs send Basic credentials: the public key is an API key's prefix (`po_…`, as `promptops key list` shows it) and the secret key is the whole API key";
    let Some(header) = header else {
        return Err(unauthorized(format!("credentials needed: {HOW}")));
    };
    let text = header
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    let Some(encoded) = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
    else {
        // A bearer API key works too (curl); a session is refused by the caller.
        return authenticate(state, Some(header)).await;
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            unauthorized(format!(
                "the Basic credentials are not base64 of `public:secret`; {HOW}"
            ))
        })?;
    let Some((public, secret)) = decoded.split_once(':') else {
        return Err(unauthorized(format!(
            "the Basic credentials hold no `:` between the public and the secret key; {HOW}"
        )));
    };
    let Some(prefix) = secrets::key_prefix(secret) else {
        return Err(unauthorized(format!(
            "the secret key is not a promptops API key; {HOW}"
        )));
    };
    if public != prefix {
        return Err(unauthorized(format!(
            "the public key does not belong to the secret key: set the public key to `{prefix}`, the API key's prefix"
        )));
    }
    authenticate_key(state, secret).await
}

/// Who the `Authorization` header says the caller is.
pub async fn authenticate<S: Store>(
    state: &AppState<S>,
    header: Option<&HeaderValue>,
) -> Result<Arc<Principal>, ApiError> {
    let Some(header) = header else {
        return Err(unauthorized(
            "credentials needed: send `Authorization: Bearer <token or API key>` (`promptops login`, or PROMPTOPS_TOKEN)",
        ));
    };
    let text = header
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not readable text"))?;
    let presented = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(|| {
            unauthorized("the Authorization header must be `Bearer <token or API key>`")
        })?;
    if presented.starts_with(secrets::KEY_MARK) {
        authenticate_key(state, presented).await
    } else {
        let claims = state
            .auth
            .signer
            .verify(presented, TokenKind::Access)
            .map_err(|e| unauthorized(e.to_string()))?;
        live_session(state, &claims.sid, &claims.sub).await?;
        let user = active_user(state, &claims.sub).await?;
        Ok(Arc::new(Principal {
            user,
            key: None,
            session: Some(claims.sid),
        }))
    }
}

/// Refuses a token whose session has ended (logout, "end all sessions", a disabled
/// user, a reused refresh token).
pub async fn live_session<S: Store>(
    state: &AppState<S>,
    sid: &str,
    user: &str,
) -> Result<(), ApiError> {
    match state.store.session(sid).await? {
        Some(s) if s.user == user && s.ended_at.is_none() => Ok(()),
        Some(s) if s.user == user => Err(unauthorized(format!(
            "this session has ended ({}); log in again (`promptops login`)",
            s.ended_reason.unwrap_or_else(|| "ended".into())
        ))),
        _ => Err(unauthorized(
            "this session is unknown to the registry; log in again (`promptops login`)",
        )),
    }
}

/// The user, if they exist and are not disabled.
pub async fn active_user<S: Store>(state: &AppState<S>, name: &str) -> Result<User, ApiError> {
    let record = state
        .store
        .user(name)
        .await?
        .ok_or_else(|| unauthorized(format!("user `{name}` no longer exists")))?;
    if record.user.disabled {
        return Err(unauthorized(format!("user `{name}` is disabled")));
    }
    Ok(record.user)
}

/// Keys are used often: their last use is written at most once a minute.
const TOUCH_EVERY_SECONDS: i64 = 60;

fn invalid_key() -> ApiError {
    unauthorized("the API key is not valid (unknown, mistyped or deleted)")
}

fn now_seconds() -> i64 {
    i64::try_from(super::token::now_seconds()).unwrap_or(i64::MAX)
}

/// An API key: from memory when it was verified since the last key or user change,
/// else from the store (and then remembered).
async fn authenticate_key<S: Store>(
    state: &AppState<S>,
    presented: &str,
) -> Result<Arc<Principal>, ApiError> {
    let prefix = secrets::key_prefix(presented).ok_or_else(invalid_key)?;
    state.delivery.sync().await;
    if let Some(checked) = check_cached_key(state, presented) {
        return checked;
    }
    let epoch = state.delivery.key_epoch();
    let record = state.store.api_key(prefix).await?.ok_or_else(invalid_key)?;
    if !secrets::same_secret(&secrets::key_hash(presented), &record.secret_hash) {
        return Err(invalid_key());
    }
    let key = record.key;
    if let Some(when) = &key.revoked_at {
        let why = key
            .revoked_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return Err(unauthorized(format!(
            "API key {} was revoked at {when}{why}",
            key.prefix
        )));
    }
    let now = now_rfc3339();
    if let Some(expiry) = &key.expires_at
        && *expiry <= now
    {
        return Err(unauthorized(format!(
            "API key {} expired at {expiry}; create a new one (`promptops key create`)",
            key.prefix
        )));
    }
    let user = active_user(state, &key.owner).await?;
    let principal = Arc::new(Principal {
        user,
        key: Some(KeyScope {
            prefix: key.prefix.clone(),
            project: key.project.clone(),
            role: key.role,
            ci: key.ci,
        }),
        session: None,
    });
    let last_used = key
        .last_used_at
        .as_deref()
        .and_then(epoch_seconds)
        .unwrap_or(0);
    let Some(secret_digest) = promptops_core::canonical::ContentHash::from_hex(&record.secret_hash)
    else {
        // Not a digest we wrote: verified above, but not kept.
        return Ok(principal);
    };
    let cached = CachedKey {
        secret_digest,
        principal: principal.clone(),
        expires_at: key.expires_at.as_deref().and_then(epoch_seconds),
        owner: key.owner.clone(),
        touched: std::sync::atomic::AtomicU64::new(u64::try_from(last_used).unwrap_or(0)),
    };
    note_use(state, prefix, &cached, now_seconds());
    state.delivery.keep_key(prefix, cached, epoch);
    Ok(principal)
}

/// An API key checked against the key cache (call [`Delivery::sync`] first): `None`
/// when the cache does not hold it (the store must be asked).
///
/// [`Delivery::sync`]: crate::delivery::Delivery::sync
pub fn check_cached_key<S: Store>(
    state: &AppState<S>,
    presented: &str,
) -> Option<Result<Arc<Principal>, ApiError>> {
    let prefix = secrets::key_prefix(presented)?;
    let cached = state.delivery.cached_key(prefix)?;
    let digest = promptops_core::canonical::sha256(presented);
    if !secrets::same_digest(&digest, &cached.secret_digest) {
        return Some(Err(invalid_key()));
    }
    let now = now_seconds();
    if let Some(expiry) = cached.expires_at
        && expiry <= now
    {
        return Some(Err(unauthorized(format!(
            "API key {prefix} has expired; create a new one (`promptops key create`)"
        ))));
    }
    note_use(state, prefix, &cached, now);
    Some(Ok(cached.principal.clone()))
}

/// Writes the key's last use at most once a minute, off the request's path: a failed
/// note (the database is down) must not fail or slow the request.
fn note_use<S: Store>(state: &AppState<S>, prefix: &str, key: &CachedKey, now: i64) {
    let now_u = u64::try_from(now).unwrap_or(0);
    let last = key.touched.load(Ordering::Acquire);
    let due = now_u.saturating_sub(last) >= TOUCH_EVERY_SECONDS as u64;
    if !due
        || key
            .touched
            .compare_exchange(last, now_u, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        return;
    }
    let (store, prefix) = (state.store.clone(), prefix.to_owned());
    tokio::spawn(async move {
        if let Err(e) = store.touch_key(&prefix, &now_rfc3339()).await {
            tracing::debug!(key = %prefix, "could not record the key's last use: {e}");
        }
    });
}
