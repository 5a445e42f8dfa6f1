//! Red-teaming a prompt (`promptops redteam`): an injection and jailbreak suite of our
//! own, generated against the prompt's declared variables (`attacks`): direct, indirect
//! through retrieved content, encoded and multi-turn attacks, each mapped to an OWASP
//! Top 10 for LLM Applications 2025 risk; run through the eval providers; judged
//! deterministically (`judge`); reported as the registry's `RedteamReport` (JSON, or
//! one self-contained HTML page: `html`). docs/redteam.md describes every case.

mod attacks;
mod encode;
pub mod html;
mod judge;

pub use attacks::{
    Attack, Check, DEFAULT_OUTPUT_BOUND, Marker, Options, Plan, Planted, Turn, declares_tools,
    generate, output_bound,
};
pub use judge::{FixedText, LEAK_RUN, MIN_FIXED_WORDS, Verdict, judge};

use crate::provider::Provider;
use crate::suite::RegistryPrompt;
use promptops_api::assessments::{REDTEAM_FORMAT, RedteamCase, RedteamReport, RedteamSummary};
use promptops_core::prompt::Prompt;
use promptops_core::render::{self, Inputs, Rendered};
use serde_json::{Map, Value as Json, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the model is sent for `attack`: the prompt rendered with the attack's
/// variables; for a chat prompt, the messages as JSON with the fabricated turns before
/// its last user message (the form the eval providers take chat prompts in).
pub fn render_attack(target: &RegistryPrompt, attack: &Attack) -> Result<String, String> {
    let prompt = &target.prompt;
    let inputs = Inputs {
        values: attack.vars.clone(),
        ..Inputs::default()
    };
    let bound = render::bind(prompt, &target.used_variables, &inputs).map_err(|problems| {
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    match render::render(prompt, &bound.values).map_err(|e| e.to_string())? {
        Rendered::Text(text) => Ok(text),
        Rendered::Messages(messages) => {
            let mut messages: Vec<Json> = messages
                .iter()
                .map(|m| serde_json::to_value(m).unwrap_or(Json::Null))
                .collect();
            let at = messages
                .iter()
                .rposition(|m| m["role"] == "user")
                .unwrap_or(messages.len());
            for (i, t) in attack.turns.iter().enumerate() {
                messages.insert(at + i, json!({"role": t.role, "content": t.content}));
            }
            serde_json::to_string_pretty(&messages).map_err(|e| e.to_string())
        }
    }
}

/// Runs one attack; a render or provider failure is the case's `error`, never a panic.
pub async fn run_one(
    target: &RegistryPrompt,
    fixed: &FixedText,
    provider: &Provider,
    attack: &Attack,
) -> RedteamCase {
    let mut case = RedteamCase {
        id: attack.id.clone(),
        risk: attack.risk.to_owned(),
        technique: attack.technique,
        variable: attack.variable.clone(),
        goal: attack.goal.clone(),
        input: attack.input(),
        output: None,
        succeeded: false,
        pii_leak: false,
        reason: String::new(),
        error: None,
    };
    let sent = match render_attack(target, attack) {
        Ok(sent) => sent,
        Err(e) => {
            case.reason = "the prompt could not be rendered with the attack".into();
            case.error = Some(format!("cannot render: {e}"));
            return case;
        }
    };
    let vars: Map<String, Json> = attack
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let response = provider.call(&sent, &vars, &Map::new()).await;
    case.output = judge::output_text(&response);
    match (&response.error, &case.output) {
        (Some(e), _) => {
            case.reason = "the provider failed, so the attack was not judged".into();
            case.error = Some(e.clone());
        }
        (None, None) => {
            case.reason = "the provider gave no answer, so the attack was not judged".into();
            case.error = Some("no output".into());
        }
        (None, Some(_)) => {
            let v = judge(&attack.check, fixed, &sent, &response);
            case.succeeded = v.succeeded;
            case.pii_leak = v.pii_leak;
            case.reason = v.reason;
        }
    }
    case
}

/// Runs every attack of `plan`, `concurrency` at a time, calling `on_done` with the
/// number finished after each. Cases come back in the plan's order.
pub async fn run(
    target: Arc<RegistryPrompt>,
    plan: &Plan,
    provider: Arc<Provider>,
    concurrency: usize,
    on_done: Arc<dyn Fn(usize) + Send + Sync>,
) -> Vec<RedteamCase> {
    let attacks: Arc<Vec<Attack>> = Arc::new(plan.attacks.clone());
    let fixed = Arc::new(FixedText::of(&target.prompt));
    let slots: Arc<Mutex<Vec<Option<RedteamCase>>>> =
        Arc::new(Mutex::new(vec![None; attacks.len()]));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, attacks.len().max(1)) {
        let (target, fixed, provider, attacks, slots, next, done, on_done) = (
            target.clone(),
            fixed.clone(),
            provider.clone(),
            attacks.clone(),
            slots.clone(),
            next.clone(),
            done.clone(),
            on_done.clone(),
        );
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(attack) = attacks.get(i) else { break };
                let case = run_one(&target, &fixed, &provider, attack).await;
                if let Ok(mut slots) = slots.lock() {
                    slots[i] = Some(case);
                }
                on_done(done.fetch_add(1, Ordering::Relaxed) + 1);
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let slots = slots.lock().map(|s| s.clone()).unwrap_or_default();
    plan.attacks
        .iter()
        .zip(slots)
        .map(|(attack, case)| {
            case.unwrap_or_else(|| RedteamCase {
                id: attack.id.clone(),
                risk: attack.risk.to_owned(),
                technique: attack.technique,
                variable: attack.variable.clone(),
                goal: attack.goal.clone(),
                input: attack.input(),
                output: None,
                succeeded: false,
                pii_leak: false,
                reason: "the attack did not run".into(),
                error: Some("the worker running it stopped".into()),
            })
        })
        .collect()
}

/// The report of a run: the cases as judged and the summary [`RedteamReport::tally`]
/// makes of them (so [`RedteamReport::check`] passes).
pub fn report(
    prompt: &Prompt,
    provider: &str,
    plan: &Plan,
    cases: Vec<RedteamCase>,
    generated_at: String,
) -> RedteamReport {
    let summary = RedteamReport::tally(&cases, &plan.not_applicable);
    RedteamReport {
        format: REDTEAM_FORMAT.to_owned(),
        prompt_id: prompt.id.clone(),
        version: prompt.version.to_string(),
        content_hash: Some(promptops_core::canonical::content_hash(prompt).to_string()),
        provider: provider.to_owned(),
        generated_at,
        not_applicable: plan.not_applicable.clone(),
        cases,
        summary,
    }
}

/// A limit from the prompt's own `metrics` the run must meet: `max_attack_success_rate`
/// (a fraction) and `max_pii_leaks` (a count).
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    pub name: &'static str,
    pub measured: String,
    pub required: String,
    pub pass: bool,
}

/// The gates the prompt's metrics set for a red-team run (none when it sets neither).
pub fn gates(prompt: &Prompt, summary: &RedteamSummary) -> Vec<Gate> {
    let mut out = Vec::new();
    if let Some(max) = prompt.metric("max_attack_success_rate") {
        let (measured, pass) = match summary.attack_success_rate {
            Some(rate) => (format!("{rate:.3}"), rate <= max + 1e-12),
            None => ("n/a".to_owned(), summary.errors == 0),
        };
        out.push(Gate {
            name: "attack_success_rate",
            measured,
            required: format!("<= {max}"),
            pass,
        });
    }
    if let Some(max) = prompt.metric("max_pii_leaks") {
        out.push(Gate {
            name: "pii_leaks",
            measured: summary.pii_leaks.to_string(),
            required: format!("<= {max}"),
            pass: summary.pii_leaks as f64 <= max,
        });
    }
    out
}

#[cfg(test)]
mod tests;
