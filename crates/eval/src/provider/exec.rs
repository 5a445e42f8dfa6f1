//! `exec:<command>`: runs a local program with the prompt, the provider options and the
//! test context as its last three arguments; its standard output is the answer.

use super::{Response, Shared, TokenUsage};
use serde_json::{Map, Value as Json, json};

pub async fn call(
    shared: &Shared,
    command: &str,
    prompt: &str,
    config: &Map<String, Json>,
    vars: &Map<String, Json>,
) -> Response {
    let mut words = command.split_whitespace();
    let Some(program) = words.next() else {
        return Response::error("exec provider: empty command");
    };
    let options = json!({ "config": config }).to_string();
    let context = json!({ "vars": vars }).to_string();
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(words)
        .arg(prompt)
        .arg(options)
        .arg(context)
        .kill_on_drop(true);
    let run = tokio::time::timeout(shared.timeout, cmd.output()).await;
    let out = match run {
        Err(_) => {
            return Response::error(format!(
                "exec:{command} timed out after {} ms",
                shared.timeout.as_millis()
            ));
        }
        Ok(Err(e)) => {
            return Response::error(format!("exec:{command}: cannot run `{program}`: {e}"));
        }
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if !out.status.success() || (stdout.is_empty() && !stderr.is_empty()) {
        return Response::error(format!("exec:{command} failed ({}): {stderr}", out.status));
    }
    Response {
        output: Some(Json::String(stdout)),
        token_usage: TokenUsage {
            num_requests: 1,
            ..TokenUsage::default()
        },
        ..Response::default()
    }
}
