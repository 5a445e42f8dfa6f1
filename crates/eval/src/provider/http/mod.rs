//! promptfoo's generic `http` provider: any HTTP endpoint as a model. The id is `http`,
//! `https` or the endpoint's URL; `config` builds the request (`url`, `method`, `headers`,
//! `body`, `queryParams`, every string a template over the test's vars plus `prompt`) and
//! `transformResponse` (or the older `responseParser`) picks the answer out of the reply.
//!
//! Requests go through `retry::send` like every other provider. A status outside 2xx is
//! an error row naming the status and the start of the body.

mod answer;

use super::{HttpMeta, Response, Shared, TokenUsage, retry};
use crate::assertions::script;
use crate::pricing::NanoUsd;
use answer::*;
use promptops_core::template::{self, Undefined};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// How much of an error body an error row quotes.
const EXCERPT_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error(
        "http provider: no URL; set `config.url`, or use the endpoint's URL as the provider id"
    )]
    NoUrl,
    #[error("http provider: `config.{key}` {problem}")]
    Config { key: &'static str, problem: String },
    #[error("http provider: cannot render `{field}`: {message}")]
    Template { field: String, message: String },
    #[error("API call error: {0}")]
    Send(String),
    /// promptfoo's wording, so suites that match on it keep working.
    #[error("HTTP call failed with status {status} {status_text}: {excerpt}")]
    Status {
        status: u16,
        status_text: String,
        excerpt: String,
    },
    #[error("Failed to transform response: {0}")]
    Transform(String),
}

/// Checks the parts of the config that do not depend on a test, when the suite loads.
pub fn check_config(config: &Map<String, Json>, id_url: Option<&str>) -> Result<(), HttpError> {
    match config.get("url") {
        Some(Json::String(_)) => {}
        None | Some(Json::Null) if id_url.is_some() => {}
        None | Some(Json::Null) => return Err(HttpError::NoUrl),
        Some(_) => {
            return Err(HttpError::Config {
                key: "url",
                problem: "must be a string".into(),
            });
        }
    }
    for key in ["headers", "queryParams"] {
        if config
            .get(key)
            .is_some_and(|v| !v.is_object() && !v.is_null())
        {
            return Err(HttpError::Config {
                key,
                problem: "must be a mapping of names to values".into(),
            });
        }
    }
    if config.get("method").is_some_and(|v| !v.is_string()) {
        return Err(HttpError::Config {
            key: "method",
            problem: "must be a string such as POST or GET".into(),
        });
    }
    if transform_code(config)?.is_some_and(str::is_empty) {
        return Err(HttpError::Config {
            key: "transformResponse",
            problem: "is empty".into(),
        });
    }
    Ok(())
}

/// `transformResponse`, else promptfoo's older name `responseParser`.
fn transform_code(config: &Map<String, Json>) -> Result<Option<&str>, HttpError> {
    for key in ["transformResponse", "responseParser"] {
        match config.get(key) {
            None | Some(Json::Null) => {}
            Some(Json::String(code)) => return Ok(Some(code.trim())),
            Some(_) => {
                return Err(HttpError::Config {
                    key,
                    problem: "must be a JavaScript expression or a `file://` path".into(),
                });
            }
        }
    }
    Ok(None)
}

/// A request body after rendering.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Json(Json),
    Text(String),
}

/// The request one call sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
}

/// Renders the config into the request for `prompt` and `vars`.
pub fn build_request(
    config: &Map<String, Json>,
    id_url: Option<&str>,
    scope: &Map<String, Json>,
) -> Result<Request, HttpError> {
    let url_template = match config.get("url") {
        Some(Json::String(u)) => u.as_str(),
        _ => id_url.ok_or(HttpError::NoUrl)?,
    };
    let rendered_url = render(url_template, scope, "url")?;
    let mut url = reqwest::Url::parse(rendered_url.trim()).map_err(|e| HttpError::Config {
        key: "url",
        problem: format!("is not a URL (`{rendered_url}`: {e})"),
    })?;
    if let Some(Json::Object(params)) = config.get("queryParams")
        && !params.is_empty()
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in params {
            let value =
                render(&text_of(value), scope, &format!("queryParams.{name}"))?.into_owned();
            pairs.append_pair(name, &value);
        }
    }

    let mut headers = Vec::new();
    if let Some(Json::Object(h)) = config.get("headers") {
        for (name, value) in h {
            let value = render(&text_of(value), scope, &format!("headers.{name}"))?.into_owned();
            // Checked here: a bad header would otherwise fail inside the send, where it
            // looks like a connection failure and is retried.
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(&value).is_ok();
            if !valid {
                return Err(HttpError::Config {
                    key: "headers",
                    problem: format!(
                        "has an invalid header `{name}` (names are tokens, values one line of text)"
                    ),
                });
            }
            headers.push((name.clone(), value));
        }
    }
    let content_type = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase());

    let body = match config.get("body") {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) => {
            // A string body is JSON when it reads as JSON after rendering, unless the
            // headers say it is something else (a form, plain text).
            let may_be_json = content_type.as_ref().is_none_or(|c| c.contains("json"));
            Some(render_text_body(text, scope, may_be_json)?)
        }
        Some(other) => {
            let mut value = other.clone();
            render_json_strings(&mut value, scope, "body")?;
            Some(Body::Json(value))
        }
    };

    let method_text = match config.get("method") {
        Some(Json::String(m)) => render(m, scope, "method")?.trim().to_ascii_uppercase(),
        // promptfoo: POST when there is a body to send, else GET.
        _ if body.is_some() => "POST".into(),
        _ => "GET".into(),
    };
    let method =
        reqwest::Method::from_bytes(method_text.as_bytes()).map_err(|_| HttpError::Config {
            key: "method",
            problem: format!("`{method_text}` is not an HTTP method"),
        })?;
    // Like promptfoo (and fetch), a GET carries no body.
    let body = body.filter(|_| method != reqwest::Method::GET);
    if content_type.is_none() {
        match &body {
            Some(Body::Json(_)) => headers.push(("content-type".into(), "application/json".into())),
            Some(Body::Text(_)) => headers.push(("content-type".into(), "text/plain".into())),
            None => {}
        }
    }
    Ok(Request {
        method,
        url,
        headers,
        body,
    })
}

/// A header or query value as text (YAML may give numbers and booleans).
fn text_of(value: &Json) -> Cow<'_, str> {
    match value {
        Json::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

fn render<'a>(
    text: &'a str,
    scope: &Map<String, Json>,
    field: &str,
) -> Result<Cow<'a, str>, HttpError> {
    if !is_template(text) {
        return Ok(Cow::Borrowed(text));
    }
    template::render_with(text, scope, Undefined::Lenient)
        .map(Cow::Owned)
        .map_err(|e| HttpError::Template {
            field: field.to_owned(),
            message: e.message,
        })
}

/// A string body: JSON when it renders to a JSON object or array. A prompt with quotes
/// or newlines breaks a body like `{"q": "{{prompt}}"}`, so when the first rendering is
/// not JSON it is rendered again with the string vars JSON-escaped (promptfoo does this).
fn render_text_body(
    text: &str,
    scope: &Map<String, Json>,
    may_be_json: bool,
) -> Result<Body, HttpError> {
    let rendered = render(text, scope, "body")?;
    if !may_be_json {
        return Ok(Body::Text(rendered.into_owned()));
    }
    let looks_like_json = rendered.trim_start().starts_with(['{', '[']);
    if let Some(value) = json_container(&rendered) {
        return Ok(Body::Json(value));
    }
    if looks_like_json && is_template(text) {
        let escaped: Map<String, Json> = scope
            .iter()
            .map(|(k, v)| match v {
                Json::String(s) => {
                    let quoted = Json::String(s.clone()).to_string();
                    (
                        k.clone(),
                        Json::String(quoted[1..quoted.len() - 1].to_owned()),
                    )
                }
                other => (k.clone(), other.clone()),
            })
            .collect();
        if let Some(value) = json_container(&render(text, &escaped, "body")?) {
            return Ok(Body::Json(value));
        }
    }
    Ok(Body::Text(rendered.into_owned()))
}

/// The text as JSON, when it is an object or an array.
fn json_container(text: &str) -> Option<Json> {
    serde_json::from_str::<Json>(text)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// Renders every string in an object or array body; a string that then reads as a JSON
/// object or array (`'{{ messages | tojson }}'`) becomes that value, as in promptfoo.
fn render_json_strings(
    value: &mut Json,
    scope: &Map<String, Json>,
    field: &str,
) -> Result<(), HttpError> {
    match value {
        Json::String(s) => {
            let rendered = render(s, scope, field)?;
            let trimmed = rendered.trim_start();
            if let Some(parsed) = trimmed
                .starts_with(['{', '['])
                .then(|| json_container(&rendered))
                .flatten()
            {
                *value = parsed;
            } else if let Cow::Owned(r) = rendered {
                *s = r;
            }
        }
        Json::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                render_json_strings(item, scope, &format!("{field}[{i}]"))?;
            }
        }
        Json::Object(map) => {
            for (k, v) in map.iter_mut() {
                render_json_strings(v, scope, &format!("{field}.{k}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The template scope: the test's vars, `prompt`, and `env` (the suite's `env:` over the
/// process environment, for `{{ env.API_KEY }}` headers) when the config mentions it.
fn scope(
    shared: &Shared,
    config: &Map<String, Json>,
    prompt: &str,
    vars: &Map<String, Json>,
) -> Map<String, Json> {
    let mut scope = vars.clone();
    scope.insert("prompt".into(), Json::String(prompt.to_owned()));
    if !scope.contains_key("env") && mentions_env(config) {
        let mut env: Map<String, Json> = std::env::vars()
            .map(|(k, v)| (k, Json::String(v)))
            .collect();
        env.extend(shared.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        scope.insert("env".into(), Json::Object(env));
    }
    scope
}

fn mentions_env(value: &Map<String, Json>) -> bool {
    fn any(v: &Json) -> bool {
        match v {
            Json::String(s) => is_template(s) && s.contains("env"),
            Json::Array(items) => items.iter().any(any),
            Json::Object(map) => map.values().any(any),
            _ => false,
        }
    }
    value.values().any(any)
}

/// The request for one call: the config rendered with the test's vars and `prompt`.
pub fn prepare(
    shared: &Shared,
    config: &Map<String, Json>,
    id_url: Option<&str>,
    prompt: &str,
    vars: &Map<String, Json>,
) -> Result<Request, HttpError> {
    build_request(config, id_url, &scope(shared, config, prompt, vars))
}

impl Request {
    /// What identifies the request for the response cache: everything sent, except
    /// credentials in headers and query parameters.
    pub fn identity(&self) -> Json {
        let mut url = self.url.clone();
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !super::cache::is_credential(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if url.query().is_some() {
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        let headers: Vec<Json> = self
            .headers
            .iter()
            .filter(|(k, _)| !super::cache::is_credential(k))
            .map(|(k, v)| serde_json::json!([k.to_ascii_lowercase(), v]))
            .collect();
        let body = match &self.body {
            Some(Body::Json(v)) => v.clone(),
            Some(Body::Text(t)) => Json::String(t.clone()),
            None => Json::Null,
        };
        serde_json::json!({
            "method": self.method.as_str(),
            "url": url.as_str(),
            "headers": headers,
            "body": body,
        })
    }
}

/// Sends the request and reads the answer out of the reply.
pub async fn send(shared: &Shared, config: &Map<String, Json>, request: Request) -> Response {
    let body = match &request.body {
        Some(Body::Json(v)) => Some(v.to_string()),
        Some(Body::Text(t)) => Some(t.clone()),
        None => None,
    };
    let sent = retry::send(|| {
        let mut builder = shared
            .http
            .request(request.method.clone(), request.url.clone())
            .timeout(shared.timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &body {
            builder = builder.body(body.clone());
        }
        builder
    })
    .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            let mut r = Response::error(HttpError::Send(e.to_string()).to_string());
            r.http = Some(HttpMeta {
                status: 0,
                status_text: String::new(),
                headers: Vec::new(),
            });
            return r;
        }
    };
    let http = HttpMeta::new(answer.status, &answer.headers);
    if !answer.status.is_success() {
        let mut excerpt: String = answer.text.chars().take(EXCERPT_CHARS).collect();
        if excerpt.len() < answer.text.len() {
            excerpt.push('…');
        }
        let mut r = Response::error(
            HttpError::Status {
                status: http.status,
                status_text: http.status_text.clone(),
                excerpt,
            }
            .to_string(),
        );
        r.http = Some(http);
        return r;
    }
    let mut response = match read_answer(shared, config, &answer.text, &http).await {
        Ok(r) => r,
        Err(e) => Response::error(e.to_string()),
    };
    response.http = Some(http);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn paths_read_without_the_engine() {
        let body = json!({"choices": [{"message": {"content": "hi"}}], "data": {"output": 3}, "a-b": true});
        let read = |code: &str| path_value(code, &body, "raw");
        assert_eq!(read("json.choices[0].message.content"), Some(json!("hi")));
        assert_eq!(read("data.output"), Some(json!(3)));
        assert_eq!(read("json[\"a-b\"]"), Some(json!(true)));
        assert_eq!(read("text"), Some(json!("raw")));
        // Not plain paths, or not there: left to JavaScript.
        assert_eq!(read("json.choices.length"), None);
        assert_eq!(read("json.missing.deeper"), None);
        assert_eq!(read("text.slice(1)"), None);
        assert_eq!(read("json.choices[0] ? 1 : 2"), None);
        assert_eq!(read("Math.PI"), None);
    }

    #[test]
    fn transform_results_follow_promptfoo() {
        assert_eq!(answer_of(Some(json!("x"))).output, Some(json!("x")));
        assert_eq!(
            answer_of(Some(json!({"answer": 1}))).output,
            Some(json!({"answer": 1}))
        );
        let r = answer_of(Some(
            json!({"output": "y", "tokenUsage": {"prompt": 2, "completion": 3}, "cost": 0.5}),
        ));
        assert_eq!(r.output, Some(json!("y")));
        assert_eq!((r.token_usage.total, r.token_usage.num_requests), (5, 1));
        assert_eq!(r.cost, Some(NanoUsd(500_000_000)));
        assert_eq!(
            answer_of(Some(json!({"error": "refused"})))
                .error
                .as_deref(),
            Some("refused")
        );
        assert_eq!(answer_of(None).output, None);
    }

    #[test]
    fn string_bodies_become_json_even_when_the_prompt_needs_escaping() {
        let config =
            map(json!({"url": "http://x/api", "body": "{\"q\": \"{{prompt}}\", \"n\": {{n}}}"}));
        let scope = map(json!({"prompt": "say \"hi\"\nplease", "n": 2}));
        let r = build_request(&config, None, &scope).unwrap();
        assert_eq!(r.method, reqwest::Method::POST);
        assert_eq!(
            r.body,
            Some(Body::Json(json!({"q": "say \"hi\"\nplease", "n": 2})))
        );
        assert!(
            r.headers
                .contains(&("content-type".into(), "application/json".into()))
        );

        let form = map(
            json!({"url": "http://x", "body": "q={{prompt}}", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        );
        let r = build_request(&form, None, &scope).unwrap();
        assert_eq!(r.body, Some(Body::Text("q=say \"hi\"\nplease".into())));
        assert_eq!(r.headers.len(), 1);
    }

    #[test]
    fn get_requests_carry_query_params_and_no_body() {
        let config = map(json!({"method": "get", "queryParams": {"q": "{{prompt}}", "n": 5}}));
        let scope = map(json!({"prompt": "a b&c"}));
        let r = build_request(&config, Some("https://h.example/s?x=1"), &scope).unwrap();
        assert_eq!(r.method, reqwest::Method::GET);
        assert_eq!(r.url.as_str(), "https://h.example/s?x=1&q=a+b%26c&n=5");
        assert_eq!(r.body, None);

        // promptfoo renders a URL id as a template too.
        let scope = map(json!({"id": 7}));
        let r = build_request(&Map::new(), Some("https://h.example/users/{{id}}"), &scope).unwrap();
        assert_eq!(r.url.as_str(), "https://h.example/users/7");
    }

    #[test]
    fn config_problems_are_named() {
        assert_eq!(check_config(&Map::new(), None), Err(HttpError::NoUrl));
        assert!(check_config(&Map::new(), Some("https://h")).is_ok());
        let bad = map(json!({"url": "http://x", "transformResponse": 3}));
        assert!(
            check_config(&bad, None)
                .unwrap_err()
                .to_string()
                .contains("transformResponse")
        );
        let scope = Map::new();
        let err = build_request(&map(json!({"url": "not a url"})), None, &scope).unwrap_err();
        assert!(err.to_string().contains("config.url"), "{err}");
    }
}
