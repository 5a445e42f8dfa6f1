//! The Langfuse-compatible prompt API on SQLite and PostgreSQL: prompts by label, by
//! version and by default (`production`), the list, text and chat versions created the
//! Langfuse way, labels moved through the same policy gates as `promptops promote`
//! (a blocked move is an error, opens a request and is audited), Basic credentials, the
//! 404 body, names with a slash. The real Langfuse SDKs run against a real server in
//! `tests/langfuse/` (`.ci/run`).

mod common;

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use common::{Api, Reply};
use serde_json::{Value, json};

const P: &str = "shop";

fn text_source(version: &str, template: &str, changelog: &str) -> String {
    format!(
        "id: support.answer\nversion: {version}\nowner: support\ndescription: Answers.\n\
         model:\n  provider: openai\n  name: gpt-4o-mini\n  params: {{temperature: 0.2}}\n\
         template: \"{template}\"\nvariables:\n  name: string\n  question: string\n\
         tags: [support, rag]\nchangelog: {changelog}\n"
    )
}

const CHAT: &str = "id: support.chat\nversion: 1.0.0\nowner: support\ndescription: Chats.\n\
    model: anthropic:claude-3-5-sonnet\nmessages:\n  - role: system\n    content: |\n      You help {{ name }}.\n      Be brief.\n\
    \x20 - role: user\n    content: \"{{ question }}\"\nvariables: [name, question]\n";

/// `Authorization: Basic` as the Langfuse SDKs send it.
fn basic(public: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{public}:{secret}"))
    )
}

struct Setup {
    api: Api,
    /// Basic credentials of an editor key of `shop`.
    editor: String,
    /// The editor key's prefix.
    editor_prefix: String,
    /// Basic credentials of a viewer key of `shop`.
    viewer: String,
}

async fn publish(api: &Api, id: &str, source: &str) {
    let r = api
        .post(
            &format!("/v1/projects/{P}/prompts/{id}/versions"),
            json!({ "source": source }),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

async fn promote(api: &Api, id: &str, env: &str, version: &str) {
    let r = api
        .post(
            &format!("/v1/projects/{P}/prompts/{id}/promote"),
            json!({"environment": env, "version": version}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// `shop` with support.answer 1.0.0 (dev, staging, prod) and 1.1.0 (dev), support.chat
/// 1.0.0 (prod), and an editor and a viewer key.
async fn setup(api: Api) -> Setup {
    api.create_project(P).await;
    publish(
        &api,
        "support.answer",
        &text_source("1.0.0", "Hello {{ name }}: {{ question }}", "first"),
    )
    .await;
    publish(
        &api,
        "support.answer",
        &text_source(
            "1.1.0",
            "Hi {{ name }}! {{ question }}",
            "[shorter, friendlier]",
        ),
    )
    .await;
    for env in ["dev", "staging", "prod"] {
        promote(&api, "support.answer", env, "1.0.0").await;
    }
    promote(&api, "support.answer", "dev", "1.1.0").await;
    publish(&api, "support.chat", CHAT).await;
    for env in ["dev", "staging", "prod"] {
        promote(&api, "support.chat", env, "1.0.0").await;
    }
    let (key, prefix) = api.create_key(&api.admin, "app", P, "editor").await;
    let (viewer_key, viewer_prefix) = api.create_key(&api.admin, "reader", P, "viewer").await;
    Setup {
        editor: basic(&prefix, &key),
        editor_prefix: prefix,
        viewer: basic(&viewer_prefix, &viewer_key),
        api,
    }
}

impl Setup {
    async fn get(&self, uri: &str) -> Reply {
        self.api
            .call_with_header(Method::GET, uri, Some(&self.editor), None)
            .await
    }

    async fn send(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.api
            .call_with_header(method, uri, Some(&self.editor), Some(&body))
            .await
    }
}

/// A Langfuse-shaped error: JSON (not problem+json) with `message` and `error`.
fn assert_langfuse_error(r: &Reply, status: StatusCode, error: &str, message_has: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/json", "{}", r.text);
    assert_eq!(r.body["error"], error, "{}", r.text);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(message_has),
        "message {message:?} should mention {message_has:?}"
    );
}

const ANSWER: &str = "/api/public/v2/prompts/support.answer";

async fn prompts_by_label_version_and_default(api: Api) {
    let s = setup(api).await;

    // No query: the version labelled `production`, which is what prod serves.
    let r = s.get(ANSWER).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.body["name"], "support.answer");
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["type"], "text");
    assert_eq!(r.body["prompt"], "Hello {{name}}: {{question}}");
    assert_eq!(r.body["labels"], json!(["staging", "production"]));
    assert_eq!(r.body["tags"], json!(["support", "rag"]));
    assert_eq!(r.body["commitMessage"], "first");
    assert_eq!(
        r.body["config"],
        json!({"model": "gpt-4o-mini", "provider": "openai", "temperature": 0.2})
    );
    assert_eq!(r.body["promptopsVersion"], "1.0.0");
    assert_eq!(r.body["projectId"], P);
    assert!(r.body["resolutionGraph"].is_null());

    // By label: each environment under its own name, and `latest`.
    let r = s.get(&format!("{ANSWER}?label=dev")).await;
    assert_eq!(
        (r.body["version"].clone(), r.body["labels"].clone()),
        (json!(2), json!(["dev", "latest"])),
        "{}",
        r.text
    );
    assert_eq!(r.body["commitMessage"], "shorter\nfriendlier");
    assert_eq!(
        s.get(&format!("{ANSWER}?label=latest")).await.body["version"],
        2
    );
    assert_eq!(
        s.get(&format!("{ANSWER}?label=production")).await.body["version"],
        1
    );
    // `prod` appears as `production`, so `prod` is no label.
    let r = s.get(&format!("{ANSWER}?label=prod")).await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "no version labelled `prod`",
    );

    // By version: the publication order, from 1.
    let r = s.get(&format!("{ANSWER}?version=2")).await;
    assert_eq!(r.body["prompt"], "Hi {{name}}! {{question}}", "{}", r.text);
    assert_eq!(
        s.get(&format!("{ANSWER}?version=1")).await.body["promptopsVersion"],
        "1.0.0"
    );
    let r = s.get(&format!("{ANSWER}?version=3")).await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "versions are 1 to 2",
    );
    let r = s.get(&format!("{ANSWER}?version=0")).await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "counting from 1",
    );
    let r = s.get(&format!("{ANSWER}?version=1&label=dev")).await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "not both",
    );

    // A chat prompt: messages with their type, text as compile() expects it.
    let r = s.get("/api/public/v2/prompts/support.chat").await;
    assert_eq!(r.body["type"], "chat", "{}", r.text);
    assert_eq!(
        r.body["prompt"],
        json!([
            {"role": "system", "content": "You help {{name}}.\nBe brief.\n", "type": "chatmessage"},
            {"role": "user", "content": "{{question}}", "type": "chatmessage"},
        ])
    );
    assert_eq!(
        r.body["config"],
        json!({"model": "claude-3-5-sonnet", "provider": "anthropic"})
    );
    assert_eq!(r.body["tags"], json!([]), "tags are never null");
    assert_eq!(r.body["commitMessage"], Value::Null);
    assert_eq!(
        r.body["labels"],
        json!(["dev", "staging", "production", "latest"])
    );

    // A name percent-encoded as one segment, with a slash (a folder): the same prompt,
    // answered under the name asked for.
    let r = s
        .get("/api/public/v2/prompts/support%2Fanswer?version=2")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["name"], "support/answer");
    assert_eq!(r.body["promptopsId"], "support.answer");

    // An unknown prompt: 404 with a JSON body.
    let r = s.get("/api/public/v2/prompts/support.nothing").await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "`support.nothing` not found in project `shop`",
    );
    let r = s.get("/api/public/v2/prompts/not%20an%20id").await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "cannot name a promptops prompt",
    );

    // The list, its filters and pages.
    let r = s.get("/api/public/v2/prompts").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["meta"],
        json!({"page": 1, "limit": 50, "totalItems": 2, "totalPages": 1})
    );
    let answer = &r.body["data"][0];
    assert_eq!(answer["name"], "support.answer");
    assert_eq!(answer["type"], "text");
    assert_eq!(answer["versions"], json!([1, 2]));
    assert_eq!(
        answer["labels"],
        json!(["dev", "staging", "production", "latest"])
    );
    assert_eq!(answer["tags"], json!(["support", "rag"]));
    assert_eq!(answer["lastConfig"]["model"], "gpt-4o-mini");
    assert!(answer["lastUpdatedAt"].as_str().is_some());
    assert_eq!(r.body["data"][1]["type"], "chat");
    let r = s.get("/api/public/v2/prompts?limit=1&page=2").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["name"], "support.chat");
    assert_eq!(r.body["meta"]["totalPages"], 2);
    let r = s.get("/api/public/v2/prompts?tag=rag").await;
    assert_eq!(r.body["meta"]["totalItems"], 1, "{}", r.text);
    let r = s.get("/api/public/v2/prompts?name=support%2Fchat").await;
    assert_eq!(r.body["data"][0]["name"], "support.chat", "{}", r.text);
    let r = s
        .get("/api/public/v2/prompts?label=production&fromUpdatedAt=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(r.body["meta"]["totalItems"], 2, "{}", r.text);
    let r = s
        .get("/api/public/v2/prompts?toUpdatedAt=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(r.body["meta"]["totalItems"], 0, "{}", r.text);
    let r = s.get("/api/public/v2/prompts?limit=500").await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "limit is 1 to 100",
    );

    // What the SDKs' auth_check() reads.
    let r = s.get("/api/public/projects").await;
    assert_eq!(r.body["data"][0]["name"], P, "{}", r.text);
    // What is not served answers in Langfuse's shape too (the SDKs' delete, datasets).
    let r = s.send(Method::DELETE, ANSWER, json!({})).await;
    assert_langfuse_error(
        &r,
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowedError",
        "DELETE is not allowed",
    );
    let r = s.get("/api/public/v2/datasets").await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "no route",
    );
}

async fn text_and_chat_versions_are_created_the_langfuse_way(api: Api) {
    let s = setup(api).await;
    let prompts = "/api/public/v2/prompts";
    // A new prompt needs a model; the SDKs send `config: {}` when given none.
    let r = s
        .send(Method::POST, prompts, json!({"name": "sales/pitch", "prompt": "Sell {{product}}", "config": {}, "labels": []}))
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "config.model",
    );
    let before = s.api.events().await;

    let r = s
        .send(
            Method::POST,
            prompts,
            json!({"name": "sales/pitch", "type": "text", "prompt": "Sell {{product}} to {{ who }}.\n",
                   "config": {"model": "openai:gpt-4o", "temperature": 0.7}, "labels": [], "tags": ["sales"],
                   "commitMessage": "first pitch"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["name"], "sales/pitch");
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["prompt"], "Sell {{product}} to {{who}}.\n");
    assert_eq!(r.body["labels"], json!(["latest"]));
    assert_eq!(
        r.body["config"],
        json!({"model": "gpt-4o", "provider": "openai", "temperature": 0.7})
    );
    assert_eq!(r.body["commitMessage"], "first pitch");
    assert_eq!(s.api.events().await, before + 1, "one version.published");

    // The stored file is a prompt file like any other: validated, owned by the key's
    // user, its variables declared.
    let v = s
        .api
        .get(&format!(
            "/v1/projects/{P}/prompts/sales.pitch/versions/1.0.0"
        ))
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let source = v.body["source"].as_str().unwrap();
    assert!(source.contains("owner: \"admin\""), "{source}");
    assert!(
        source.contains("template: |\n  Sell {{ product }} to {{ who }}.\n"),
        "{source}"
    );
    assert_eq!(v.body["content"]["variables"]["who"]["required"], true);
    assert_eq!(v.body["author"], "admin");

    // The next version: the text changed (a minor bump), the same variables, and
    // labels moved through their environments' (empty) policies.
    let r = s
        .send(
            Method::POST,
            prompts,
            json!({"name": "sales.pitch", "prompt": "Offer {{product}} to {{who}}.\n", "config": {}, "labels": ["staging", "latest"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["labels"], json!(["staging", "latest"]));
    assert_eq!(r.body["promptopsVersion"], "1.1.0");
    assert_eq!(
        r.body["config"]["temperature"], 0.7,
        "an empty config keeps the model"
    );
    assert_eq!(
        r.body["tags"],
        json!(["sales"]),
        "tags carry over when not sent"
    );
    // The same content again is the same version.
    let r = s
        .send(
            Method::POST,
            prompts,
            json!({"name": "sales.pitch", "prompt": "Offer {{product}} to {{who}}.\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["version"], 2);

    // A chat prompt.
    let r = s
        .send(
            Method::POST,
            prompts,
            json!({"name": "sales.chat", "type": "chat", "config": {"model": "gpt-4o-mini", "provider": "openai"},
                   "prompt": [{"role": "system", "content": "You sell {{product}}."},
                              {"role": "user", "content": "{{question}}", "type": "chatmessage"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["type"], "chat");
    assert_eq!(
        r.body["prompt"][1],
        json!({"role": "user", "content": "{{question}}", "type": "chatmessage"})
    );
    let got = s
        .get("/api/public/v2/prompts/sales.chat?label=latest")
        .await;
    assert_eq!(got.body["prompt"], r.body["prompt"]);

    // What cannot become a prompt file is refused with what to change, and nothing is
    // written.
    let before = s.api.events().await;
    for (body, status, has) in [
        (
            json!({"name": "sales.chat", "type": "chat", "prompt": [{"type": "placeholder", "name": "history"}]}),
            StatusCode::BAD_REQUEST,
            "placeholder",
        ),
        (
            json!({"name": "sales.chat", "type": "chat", "prompt": [{"role": "developer", "content": "x"}]}),
            StatusCode::BAD_REQUEST,
            "system, user or assistant",
        ),
        (
            json!({"name": "sales.chat", "type": "chat", "prompt": "text"}),
            StatusCode::BAD_REQUEST,
            "type is `chat`",
        ),
        (
            json!({"name": "sales.pitch", "prompt": "Hi {{user.name}}"}),
            StatusCode::BAD_REQUEST,
            "`{{user.name}}` is not a variable",
        ),
        (
            json!({"name": "sales.pitch", "prompt": "Hi {{name"}),
            StatusCode::BAD_REQUEST,
            "never closed",
        ),
        (
            json!({"name": "bad name", "prompt": "x", "config": {"model": "m"}}),
            StatusCode::BAD_REQUEST,
            "cannot name",
        ),
        (
            json!({"name": "sales.pitch", "prompt": "x", "labels": ["nowhere"]}),
            StatusCode::BAD_REQUEST,
            "no environment of project `shop` is labelled `nowhere`",
        ),
        (
            json!({"name": "sales.pitch", "prompt": "x", "config": {"temperature": 7}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "does not validate",
        ),
    ] {
        let r = s.send(Method::POST, prompts, body.clone()).await;
        assert_langfuse_error(&r, status, "InvalidRequestError", has);
    }
    let r = s
        .send(
            Method::POST,
            prompts,
            json!({"name": "sales.pitch", "prompt": "x", "config": {"temperature": 7}}),
        )
        .await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("temperature"),
        "{}",
        r.text
    );
    assert_eq!(s.api.events().await, before);

    // A viewer key reads but does not publish.
    let r = s
        .api
        .call_with_header(
            Method::POST,
            prompts,
            Some(&s.viewer),
            Some(&json!({"name": "x.y", "prompt": "x"})),
        )
        .await;
    assert_langfuse_error(&r, StatusCode::FORBIDDEN, "ForbiddenError", "editor role");
}

async fn labels_move_through_the_same_gates_and_a_blocked_move_opens_a_request(api: Api) {
    let s = setup(api).await;
    let patch = |v: u64| format!("{ANSWER}/versions/{v}");
    // No policy on dev and staging: the labels move, in promotion order, audited as
    // moves made with the key.
    let r = s
        .send(
            Method::PATCH,
            &patch(2),
            json!({"newLabels": ["staging", "dev"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["labels"], json!(["dev", "staging", "latest"]));
    let labels = s
        .api
        .get(&format!("/v1/projects/{P}/prompts/support.answer/labels"))
        .await;
    let staging = labels
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["environment"] == "staging")
        .unwrap();
    assert_eq!(staging["version"], "1.1.0");
    let audit = s.api.get("/v1/audit?limit=1000").await;
    let moved = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["action"] == "label.moved")
        .unwrap();
    assert_eq!(
        moved["details"]["via_key"],
        s.editor_prefix.as_str(),
        "{moved}"
    );
    assert_eq!(moved["details"]["environment"], "staging");

    // prod needs an approval: the move is refused with the gate in words, and a request
    // waits for an approver.
    let r = s
        .api
        .put_as(
            &s.api.admin,
            &format!("/v1/projects/{P}/policies/prod"),
            json!({"source": "approvals:\n  - count: 1\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = s.api.events().await;
    let r = s
        .send(
            Method::PATCH,
            &patch(2),
            json!({"newLabels": ["production"]}),
        )
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::CONFLICT,
        "PromotionBlockedError",
        "cannot go to prod",
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("waits for approval"),
        "{}",
        r.text
    );
    let request = r.body["request"]["id"]
        .as_u64()
        .expect("the request opened");
    assert!(
        r.body["gates"].as_array().is_some_and(|g| !g.is_empty()),
        "{}",
        r.text
    );
    let open = s
        .api
        .get(&format!("/v1/projects/{P}/requests?status=open"))
        .await;
    assert_eq!(open.body[0]["id"], request, "{}", open.text);
    assert_eq!(open.body[0]["version"], "1.1.0");
    assert_eq!(
        s.api.events().await,
        before + 1,
        "promotion.requested, audited"
    );
    let audit = s.api.get("/v1/audit?limit=1000").await;
    assert_eq!(
        audit.body.as_array().unwrap().last().unwrap()["action"],
        "promotion.requested"
    );
    // Nothing moved: production still serves version 1.
    assert_eq!(s.get(ANSWER).await.body["version"], 1);

    // An approver approves: the label moves, and the Langfuse API sees it.
    let approver = s.api.user_with_role("ap", P, "approver").await;
    let r = s
        .api
        .post_as(
            &approver,
            &format!("/v1/projects/{P}/requests/{request}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s.get(ANSWER).await;
    assert_eq!(r.body["version"], 2, "{}", r.text);
    assert_eq!(
        r.body["labels"],
        json!(["dev", "staging", "production", "latest"])
    );

    // `latest` follows publication; labels no environment has are refused; a viewer
    // key reads but moves nothing.
    let r = s
        .send(Method::PATCH, &patch(1), json!({"newLabels": ["latest"]}))
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "always names the newest version",
    );
    let r = s
        .send(Method::PATCH, &patch(1), json!({"newLabels": ["qa"]}))
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::BAD_REQUEST,
        "InvalidRequestError",
        "labelled `qa`",
    );
    let r = s
        .send(Method::PATCH, &patch(9), json!({"newLabels": ["dev"]}))
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "no version 9",
    );
    let r = s
        .api
        .call_with_header(
            Method::PATCH,
            &patch(1),
            Some(&s.viewer),
            Some(&json!({"newLabels": ["dev"]})),
        )
        .await;
    assert_langfuse_error(&r, StatusCode::FORBIDDEN, "ForbiddenError", "editor role");
    let r = s
        .api
        .call_with_header(Method::GET, ANSWER, Some(&s.viewer), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn credentials_are_basic_with_a_key_and_its_prefix(api: Api) {
    let s = setup(api).await;
    let (key, prefix) = s.api.create_key(&s.api.admin, "pair", P, "viewer").await;
    let call = |authorization: Option<String>| {
        let api = &s.api;
        async move {
            api.call_with_header(Method::GET, ANSWER, authorization.as_deref(), None)
                .await
        }
    };
    assert_eq!(
        call(Some(basic(&prefix, &key))).await.status,
        StatusCode::OK
    );
    // A key as a bearer credential works too (curl).
    assert_eq!(
        call(Some(format!("Bearer {key}"))).await.status,
        StatusCode::OK
    );

    let r = call(None).await;
    assert_langfuse_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "UnauthorizedError",
        "public key is an API key's prefix",
    );
    assert_eq!(
        r.headers[header::WWW_AUTHENTICATE],
        "Basic realm=\"promptops\""
    );
    let other_prefix = &s.editor_prefix;
    let r = call(Some(basic(other_prefix, &key))).await;
    assert_langfuse_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "UnauthorizedError",
        &format!("set the public key to `{prefix}`"),
    );
    assert!(!r.text.contains(&key), "the secret is never echoed");
    let r = call(Some(basic(&prefix, "sk-lf-not-ours"))).await;
    assert_langfuse_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "UnauthorizedError",
        "not a promptops API key",
    );
    let r = call(Some("Basic !!!".to_owned())).await;
    assert_langfuse_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "UnauthorizedError",
        "not base64",
    );
    let tampered = format!("{prefix}_{}", "0".repeat(64));
    let r = call(Some(basic(&prefix, &tampered))).await;
    assert_langfuse_error(
        &r,
        StatusCode::UNAUTHORIZED,
        "UnauthorizedError",
        "not valid",
    );
    // A session names no project: refused.
    let r = call(Some(format!("Bearer {}", s.api.admin))).await;
    assert_langfuse_error(
        &r,
        StatusCode::FORBIDDEN,
        "ForbiddenError",
        "acts in an API key's project",
    );
    // A revoked key stops at once.
    let r = s
        .api
        .post(&format!("/v1/keys/{prefix}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = call(Some(basic(&prefix, &key))).await;
    assert_langfuse_error(&r, StatusCode::UNAUTHORIZED, "UnauthorizedError", "revoked");
    // Another project's key sees that project, where the prompt does not exist.
    s.api.create_project("other").await;
    let (other, other_prefix) = s
        .api
        .create_key(&s.api.admin, "other", "other", "viewer")
        .await;
    let r = call(Some(basic(&other_prefix, &other))).await;
    assert_langfuse_error(
        &r,
        StatusCode::NOT_FOUND,
        "LangfuseNotFoundError",
        "in project `other`",
    );
    let r = s
        .api
        .call_with_header(
            Method::GET,
            "/api/public/v2/prompts",
            Some(&basic(&other_prefix, &other)),
            None,
        )
        .await;
    assert_eq!(r.body["meta"]["totalItems"], 0, "{}", r.text);
}

async fn templates_langfuse_cannot_express_are_refused_by_name(api: Api) {
    let s = setup(api).await;
    publish(
        &s.api,
        "support.branchy",
        "id: support.branchy\nversion: 1.0.0\nowner: o\ndescription: d\nmodel: m\n\
         template: \"Hi{% if name %} {{ name }}{% endif %}\"\nvariables:\n  name: {type: string, required: false}\n",
    )
    .await;
    let r = s
        .get("/api/public/v2/prompts/support.branchy?label=latest")
        .await;
    assert_langfuse_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "InvalidRequestError",
        "`{% if %}` is a template tag",
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("support.branchy@1.0.0"),
        "{}",
        r.text
    );
    // It is still listed (its metadata needs no conversion).
    let r = s.get("/api/public/v2/prompts?name=support.branchy").await;
    assert_eq!(r.body["data"][0]["versions"], json!([1]), "{}", r.text);
}

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(crate::common::Api::new().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some((api, _schema)) =
                        crate::common::postgres_api(concat!("lf_", stringify!($scenario))).await
                    else {
                        return;
                    };
                    super::$scenario(api).await;
                }
            )*
        }
    };
}

on_both_backends!(
    prompts_by_label_version_and_default,
    text_and_chat_versions_are_created_the_langfuse_way,
    labels_move_through_the_same_gates_and_a_blocked_move_opens_a_request,
    credentials_are_basic_with_a_key_and_its_prefix,
    templates_langfuse_cannot_express_are_refused_by_name,
);

#[tokio::test]
async fn the_label_mapping_is_a_setting() {
    let mut settings = promptops_server::Settings::default();
    settings.langfuse.labels = [("prod", "live"), ("staging", "production")]
        .into_iter()
        .map(|(e, l)| (e.to_owned(), l.to_owned()))
        .collect();
    let s = setup(Api::with_options(settings).await).await;
    // `production` (the SDKs' default) is now staging; prod is `live`.
    let r = s.get(ANSWER).await;
    assert_eq!(
        r.body["labels"],
        json!(["production", "live"]),
        "{}",
        r.text
    );
    let r = s.get(&format!("{ANSWER}?label=live")).await;
    assert_eq!(r.body["promptopsVersion"], "1.0.0", "{}", r.text);
    let r = s
        .send(
            Method::PATCH,
            &format!("{ANSWER}/versions/2"),
            json!({"newLabels": ["production"]}),
        )
        .await;
    assert_eq!(
        r.body["labels"],
        json!(["dev", "production", "latest"]),
        "{}",
        r.text
    );
    let labels = s
        .api
        .get(&format!("/v1/projects/{P}/prompts/support.answer/labels"))
        .await;
    let staging = labels
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["environment"] == "staging")
        .unwrap();
    assert_eq!(staging["version"], "1.1.0", "`production` moved staging");
}

/// The router answers refusals under the prefix in Langfuse's shape, the routes declared
/// `[langfuse]` do too: so every route there must be declared so, and only those.
#[test]
fn every_route_under_the_langfuse_prefix_is_declared_langfuse() {
    for route in promptops_server::routes::declared::<promptops_store::SqlStore>() {
        assert_eq!(
            route
                .path
                .starts_with(promptops_server::routes::langfuse::PREFIX),
            route.langfuse,
            "{} {}",
            route.method,
            route.path
        );
    }
}
