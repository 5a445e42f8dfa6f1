//! Who may do what: every declared route × every kind of credential, each answer's
//! status pinned by a reviewed snapshot (`snapshots/authz__permission_matrix.snap`), so
//! changing a permission — or adding a route — fails here until a person has read the
//! new matrix and accepted it (`cargo insta review`); then the login limiter, API keys
//! capped by their owner's current role, and keys that cannot make keys.

mod common;

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use common::{Api, JWT_SECRET, Reply};
use promptops_server::auth::token::{Grant, Signer, TokenKind, now_seconds};
use promptops_server::routes;
use serde_json::{Value, json};

struct Credential {
    /// The short name the matrix uses.
    code: &'static str,
    /// What it is, for the matrix's legend.
    name: &'static str,
    /// The whole `Authorization` header (`None`: the request has none).
    header: Option<String>,
}

/// The body each route gets: `{}` (mostly refused as invalid, which is fine: only 401
/// and 403 matter), except where `{}` would be valid and change what is under test.
fn body_for(method: &Method, route: &str) -> Option<Value> {
    if *method == Method::GET {
        return None;
    }
    Some(match route {
        // `{}` is `{"role": null}`: it would take `v`'s role in alpha away. Granting the
        // role `v` has already changes nothing.
        "/v1/projects/{project}/members/{user}" => json!({"role": "viewer"}),
        _ => json!({}),
    })
}

/// The route with its parameters filled.
fn fill(route: &str, key_prefix: &str) -> String {
    let mut uri = String::new();
    let mut rest = route;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        uri.push_str(&rest[..open]);
        uri.push_str(match &rest[open + 1..close] {
            "project" => "alpha",
            "id" | "prompt_name" => "support.reply",
            "version" => "1.0.0",
            "env" => "prod",
            "user" => "v",
            "prefix" => key_prefix,
            "request" | "run" => "1",
            "name" => "execution-event.json",
            "webhook" => "wh_0000000000000000",
            other => panic!("{route}: give the path parameter `{other}` a value in fill()"),
        });
        rest = &rest[close + 1..];
    }
    uri.push_str(rest);
    uri
}

/// What is wrong with an answer whatever the matrix says, if anything: a 401 without
/// its challenge, a declared route that is not routed, a server error.
fn malformed(r: &Reply) -> Option<String> {
    match r.status {
        StatusCode::UNAUTHORIZED if !r.headers.contains_key(header::WWW_AUTHENTICATE) => {
            Some("401 without WWW-Authenticate".to_owned())
        }
        StatusCode::METHOD_NOT_ALLOWED => Some("405: the route is declared but not routed".into()),
        StatusCode::NOT_FOUND
            if r.body["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("no route")) =>
        {
            Some("404: the route is declared but not routed".to_owned())
        }
        s if s.is_server_error() => Some(format!("{s}: {}", r.text)),
        _ => None,
    }
}

fn password(user: &str) -> String {
    format!("password of {user}!")
}

async fn session(api: &Api, user: &str) -> Value {
    api.login_ok(user, &password(user)).await
}

fn access(session: &Value) -> String {
    session["access_token"].as_str().unwrap().to_owned()
}

/// A registry with `alpha` and `beta`, a user per role in alpha, and every kind of
/// credential; also the prefix of the revoked key.
async fn setup() -> (Api, Vec<Credential>, String) {
    let api = Api::new().await;
    api.create_project("alpha").await;
    api.create_project("beta").await;
    for (user, role) in [
        ("v", "viewer"),
        ("e", "editor"),
        ("ap", "approver"),
        ("ad", "admin"),
        ("gone", "editor"),
    ] {
        api.create_user(user, &password(user), &[("alpha", role)])
            .await;
    }
    api.create_user("sv", &password("sv"), &[("*", "viewer")])
        .await;

    let e = access(&session(&api, "e").await);
    let ad_session = session(&api, "ad").await;
    let ad = access(&ad_session);
    let gone = access(&session(&api, "gone").await);

    // Each refused credential works until the one thing that makes it fail: so a 401
    // below is for that reason.
    let works = async |credential: &str| {
        let r = api.get_as(credential, "/v1/auth/whoami").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    };
    let (revoked, revoked_prefix) = api.create_key(&e, "revoked", "alpha", "editor").await;
    works(&revoked).await;
    let r = api
        .post_as(&e, &format!("/v1/keys/{revoked_prefix}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (gone_key, _) = api.create_key(&gone, "ci", "alpha", "editor").await;
    works(&gone_key).await;
    works(&gone).await;
    let r = api.post("/v1/users/gone/disable", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let (beta_key, _) = api
        .create_key(&api.admin, "beta-admin", "beta", "admin")
        .await;
    // Made by an admin of alpha, capped at editor: behaves like an editor.
    let (editor_key, editor_prefix) = api.create_key(&ad, "ci", "alpha", "editor").await;

    let now = now_seconds();
    let registry = Signer::new(JWT_SECRET);
    // Tokens minted here belong to the live sessions of e's and ad's logins.
    let (e_sid, ad_sid) = (
        registry.verify(&e, TokenKind::Access).unwrap().sid,
        registry.verify(&ad, TokenKind::Access).unwrap().sid,
    );
    let grant = |user, session| Grant {
        user,
        session,
        refresh_id: "",
    };
    works(
        &registry
            .issue(&grant("e", &e_sid), TokenKind::Access, now, 600)
            .unwrap(),
    )
    .await;
    let expired = registry
        .issue(&grant("e", &e_sid), TokenKind::Access, now - 3600, 60)
        .unwrap();
    works(
        &registry
            .issue(&grant("ad", &ad_sid), TokenKind::Access, now, 600)
            .unwrap(),
    )
    .await;
    let forged = Signer::new(b"another secret, not the registry's!!")
        .issue(&grant("ad", &ad_sid), TokenKind::Access, now, 600)
        .unwrap();
    let refresh = ad_session["refresh_token"].as_str().unwrap().to_owned();
    let r = api
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The editor key's prefix with another secret.
    let tampered = format!("{editor_prefix}_{}", "0".repeat(64));
    assert_ne!(tampered, editor_key);

    let bearer = |c: &str| Some(format!("Bearer {c}"));
    let cred = |code, name, header| Credential { code, name, header };
    let mut creds = vec![
        cred("none", "no credentials", None),
        cred("expired", "an expired access token of e", bearer(&expired)),
        cred(
            "forged",
            "an access token of ad signed with another secret",
            bearer(&forged),
        ),
        cred(
            "refresh",
            "a refresh token of ad used as an access token",
            bearer(&refresh),
        ),
        cred(
            "revoked",
            "a revoked key (editor in alpha)",
            bearer(&revoked),
        ),
        cred("gone-key", "a key of a disabled user", bearer(&gone_key)),
        cred("gone", "a session token of a disabled user", bearer(&gone)),
        cred(
            "tampered",
            "a known key prefix with a wrong secret",
            bearer(&tampered),
        ),
        cred(
            "unknown-key",
            "an unknown key",
            bearer("po_0123456789ab_0123456789abcdef0123456789abcdef"),
        ),
        cred("malformed", "a malformed token", bearer("not-a-token")),
        cred(
            "basic",
            "Basic instead of Bearer",
            Some(format!("Basic {}", access(&ad_session))),
        ),
        cred("beta-key", "an admin key of beta", bearer(&beta_key)),
        cred(
            "alpha-key",
            "an editor key in alpha (its owner is an admin of alpha)",
            bearer(&editor_key),
        ),
        cred(
            "lf-key",
            "the same key as Basic public:secret (its prefix and itself), as Langfuse SDKs send it",
            Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{editor_prefix}:{editor_key}"))
            )),
        ),
    ];
    for (user, name) in [
        ("v", "viewer in alpha (session)"),
        ("e", "editor in alpha (session)"),
        ("ap", "approver in alpha (session)"),
        ("ad", "admin in alpha (session)"),
        ("sv", "viewer of every project (session)"),
    ] {
        creds.push(cred(
            user,
            name,
            bearer(&access(&session(&api, user).await)),
        ));
    }
    (api, creds, revoked_prefix)
}

#[tokio::test]
async fn permission_matrix() {
    let (api, creds, revoked_prefix) = setup().await;
    let events = api.events().await;
    let table = routes::table();
    // The Langfuse-compatible routes check the role in the key's project.
    let in_key_project: std::collections::BTreeSet<String> =
        routes::declared::<promptops_store::SqlStore>()
            .into_iter()
            .filter(|r| r.langfuse)
            .map(|r| r.path)
            .collect();
    let mut malformed_answers = Vec::new();
    let mut matrix = String::from("Legend:\n");
    for c in &creds {
        matrix.push_str(&format!("  {:<12} {}\n", c.code, c.name));
    }
    matrix.push_str(
        "Routes on project `alpha` (prompt support.reply, version 1.0.0, environment prod, user v, request and run 1, the revoked key); statuses grouped:\n",
    );
    // Logging out ends the session it is made with: walk it last.
    let logout_last = table
        .iter()
        .filter(|(_, route, _)| route != "/v1/auth/logout")
        .chain(
            table
                .iter()
                .filter(|(_, route, _)| route == "/v1/auth/logout"),
        );
    for (method, route, permission) in logout_last {
        let uri = fill(route, &revoked_prefix);
        let body = body_for(method, route);
        let mut by_status: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
        for cred in &creds {
            let r = api
                .call_with_header(method.clone(), &uri, cred.header.as_deref(), body.as_ref())
                .await;
            if let Some(problem) = malformed(&r) {
                malformed_answers.push(format!("{method} {uri} as {}: {problem}", cred.code));
            }
            by_status
                .entry(r.status.as_u16())
                .or_default()
                .push(cred.code);
        }
        let scope = if in_key_project.contains(route) {
            " in the key's project"
        } else {
            ""
        };
        matrix.push_str(&format!("\n{method} {route}  [{permission:?}{scope}]\n"));
        for (status, codes) in by_status {
            matrix.push_str(&format!("  {status}: {}\n", codes.join(" ")));
        }
    }
    assert!(
        malformed_answers.is_empty(),
        "{}",
        malformed_answers.join("\n")
    );
    assert_eq!(
        api.events().await,
        events,
        "every request of the matrix is refused or changes nothing"
    );
    insta::assert_snapshot!("permission_matrix", matrix);
}

#[tokio::test]
async fn login_attempts_are_limited_per_user_name() {
    let api = Api::new().await;
    api.create_user("lim", &password("lim"), &[]).await;
    api.create_user("other", &password("other"), &[]).await;
    for attempt in 1..=5 {
        let r = api.login("lim", "wrong password!").await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}: {}",
            r.text
        );
    }
    for (user, pass) in [
        ("lim", "wrong password!".to_owned()),
        ("LIM", password("lim")),
        ("lim", password("lim")),
    ] {
        let r = api.login(user, &pass).await;
        assert_eq!(
            r.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{user}: {}",
            r.text
        );
        assert_eq!(r.content_type, "application/problem+json");
        let wait: u64 = r.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=12).contains(&wait), "Retry-After: {wait}");
    }
    // Other names are not affected, known or not.
    assert_eq!(
        api.login("other", &password("other")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.login("ghost", "wrong password!").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_key_acts_with_at_most_its_owner_current_role() {
    let api = Api::new().await;
    api.create_project("alpha").await;
    api.create_user("o", &password("o"), &[("alpha", "approver")])
        .await;
    let owner = access(&session(&api, "o").await);
    let (key, _) = api.create_key(&owner, "ci", "alpha", "approver").await;

    let rollback = "/v1/projects/alpha/prompts/support.reply/rollback";
    let publish = "/v1/projects/alpha/prompts/support.reply/versions";
    let read = "/v1/projects/alpha/prompts";
    // Whether the key gets past authorization on (rollback, publish, read).
    let rights = async || {
        let mut out = Vec::new();
        for (method, uri) in [
            (Method::POST, rollback),
            (Method::POST, publish),
            (Method::GET, read),
        ] {
            let body = (method == Method::POST).then(|| json!({}));
            let r = api.call(method, uri, Some(&key), body.as_ref()).await;
            assert_ne!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
            out.push(r.status != StatusCode::FORBIDDEN);
        }
        out
    };
    let set_role = async |role: Value| {
        let r = api
            .put_as(
                &api.admin,
                "/v1/projects/alpha/members/o",
                json!({"role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    };
    assert_eq!(rights().await, [true, true, true]);
    set_role(json!("editor")).await;
    assert_eq!(
        rights().await,
        [false, true, true],
        "owner demoted to editor"
    );
    set_role(json!("viewer")).await;
    assert_eq!(
        rights().await,
        [false, false, true],
        "owner demoted to viewer"
    );
    set_role(Value::Null).await;
    assert_eq!(
        rights().await,
        [false, false, false],
        "owner has no role in alpha"
    );
    // The key's own role stays its ceiling when the owner is promoted above it.
    set_role(json!("admin")).await;
    assert_eq!(
        rights().await,
        [true, true, true],
        "owner is admin, key approver"
    );
    let r = api
        .put_as(
            &key,
            "/v1/projects/alpha/policies/prod",
            json!({"source": "x"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "an approver key cannot manage the project: {}",
        r.text
    );
}

#[tokio::test]
async fn a_key_cannot_create_keys() {
    let api = Api::new().await;
    api.create_project("alpha").await;
    api.create_user("ad", &password("ad"), &[("alpha", "admin")])
        .await;
    let ad = access(&session(&api, "ad").await);
    let (key, _) = api.create_key(&ad, "ci", "alpha", "admin").await;
    let body = json!({"name": "child", "project": "alpha", "role": "viewer"});
    let r = api.post_as(&key, "/v1/keys", body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("an API key cannot do this"),
        "{}",
        r.text
    );
    let keys = api.get_as(&ad, "/v1/keys").await;
    assert_eq!(keys.body.as_array().unwrap().len(), 1, "{}", keys.text);
}

#[tokio::test]
async fn handlers_refuse_what_the_table_cannot_see() {
    let api = Api::new().await;
    api.create_project("alpha").await;
    api.create_project("beta").await;
    api.create_user("e", &password("e"), &[("alpha", "editor")])
        .await;
    api.create_user("e2", &password("e2"), &[("alpha", "editor")])
        .await;
    let e = access(&session(&api, "e").await);
    let e2 = access(&session(&api, "e2").await);
    let key = |name: &str, project: &str, role: &str| json!({"name": name, "project": project, "role": role});

    // A key above the caller's role, or in a project where they have none.
    let r = api
        .post_as(&e, "/v1/keys", key("up", "alpha", "approver"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = api
        .post_as(&e, "/v1/keys", key("away", "beta", "viewer"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let (_, prefix) = api.create_key(&e, "ci", "alpha", "editor").await;

    // Everyone's keys: admins of every project only.
    assert_eq!(
        api.get_as(&e, "/v1/keys?all=true").await.status,
        StatusCode::FORBIDDEN
    );
    let all = api.get("/v1/keys?all=true").await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.body.as_array().unwrap().len(), 1);
    assert!(
        api.get_as(&e2, "/v1/keys")
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Someone else's key: not its owner, not an admin of its project. To them it
    // does not exist: neither its owner nor its project is told.
    let revoke = format!("/v1/keys/{prefix}/revoke");
    let r = api.post_as(&e2, &revoke, json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let unknown = api
        .post_as(&e2, "/v1/keys/po_000000000000/revoke", json!({}))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["detail"].as_str().unwrap().replace(&prefix, "X"),
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .replace("po_000000000000", "X"),
        "a stranger cannot tell a key that exists from one that does not"
    );
    assert!(
        !r.text.contains("\"e\"") && !r.text.contains("alpha"),
        "{}",
        r.text
    );
    let r = api.post_as(&e, &revoke, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["revoked_at"].is_string());
}
