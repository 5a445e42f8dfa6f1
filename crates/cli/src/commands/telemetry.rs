//! `promptops metrics` (a prompt's calls per version, as a table) and `promptops log
//! tail` (the project's execution events as they arrive).

use super::registry::Session;
use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, BOLD, DIM, RED};
use anstream::println;
use anyhow::Result;
use promptops_api::{EventOutcome, MetricsPoint, RecordedEvent};
use std::time::Duration;

/// The window `metrics` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    pub env: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub step: Option<&'a str>,
}

pub fn metrics(session: &Session, id: &str, w: Window<'_>) -> Result<Outcome> {
    let mut query = Vec::new();
    for (name, value) in [
        ("env", w.env),
        ("from", w.from),
        ("to", w.to),
        ("step", w.step),
    ] {
        if let Some(v) = value {
            query.push((name, v));
        }
    }
    if w.step.is_none() {
        // Totals only: a day is one step of the widest kind.
        query.push(("step", "day"));
    }
    let m = match session.block(session.client.metrics(&session.project, id, &query)) {
        Ok(m) => m,
        Err(e) => return session.refused(e),
    };
    if session.format == Format::Json {
        output::json(&m);
        return Ok(Outcome::Ok);
    }
    let env = m.environment.as_deref().unwrap_or("every environment");
    println!("{BOLD}{id}{BOLD:#} in {env}, {} to {}", m.from, m.to);
    if m.series.is_empty() {
        println!(
            "  no calls reported (applications report them to POST /v1/projects/{}/events)",
            session.project
        );
        return Ok(Outcome::Ok);
    }
    println!(
        "{DIM}{:<12} {:<24} {:>8} {:>7} {:>8} {:>8} {:>8} {:>10} {:>10} {:>12} {:>12}{DIM:#}",
        "version",
        "at",
        "calls",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "tokens in",
        "tokens out",
        "cost $",
        "$ per call"
    );
    for s in &m.series {
        let version = s.version.as_deref().unwrap_or("(unknown)");
        row(version, "total", &s.totals);
        if w.step.is_some() {
            for p in &s.points {
                row("", p.at.as_deref().unwrap_or(""), p);
            }
        }
    }
    Ok(Outcome::Ok)
}

fn row(version: &str, at: &str, p: &MetricsPoint) {
    let ms = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    println!(
        "{:<12} {:<24} {:>8} {:>7} {:>8} {:>8} {:>8} {:>10} {:>10} {:>12.6} {:>12.8}",
        version,
        at,
        p.calls,
        p.errors,
        ms(p.latency_ms.p50),
        ms(p.latency_ms.p95),
        ms(p.latency_ms.p99),
        p.input_tokens,
        p.output_tokens,
        p.cost_usd,
        p.cost_per_call_usd
    );
}

/// How often a follow asks for what is new.
const POLL: Duration = Duration::from_millis(500);

pub fn tail(
    session: &Session,
    (prompt, env): (Option<&str>, Option<&str>),
    lines: usize,
    follow: bool,
) -> Result<Outcome> {
    let filters = |after: Option<&str>, limit: String| {
        let mut q: Vec<(&'static str, String)> = vec![("limit", limit)];
        if let Some(p) = prompt {
            q.push(("prompt_id", p.to_owned()));
        }
        if let Some(e) = env {
            q.push(("env", e.to_owned()));
        }
        if let Some(a) = after {
            q.push(("after", a.to_owned()));
        }
        q
    };
    let fetch = |q: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (*k, v.as_str())).collect();
        session.block(session.client.events(&session.project, &pairs))
    };
    // The last `lines` events: read from the start in pages, keeping the newest.
    let mut shown: std::collections::VecDeque<RecordedEvent> = Default::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = match fetch(filters(cursor.as_deref(), "1000".into())) {
            Ok(p) => p,
            Err(e) => return session.refused(e),
        };
        let done = page.events.len() < 1000;
        for e in page.events {
            shown.push_back(e);
            if shown.len() > lines {
                shown.pop_front();
            }
        }
        if !page.next.is_empty() {
            cursor = Some(page.next);
        }
        if done {
            break;
        }
    }
    for e in &shown {
        print_event(session.format, e);
    }
    if !follow {
        return Ok(Outcome::Ok);
    }
    loop {
        std::thread::sleep(POLL);
        let page = match fetch(filters(cursor.as_deref(), "1000".into())) {
            Ok(p) => p,
            Err(e) => return session.refused(e),
        };
        for e in &page.events {
            print_event(session.format, e);
        }
        if !page.next.is_empty() {
            cursor = Some(page.next);
        }
    }
}

fn print_event(format: Format, e: &RecordedEvent) {
    if format == Format::Json {
        // One JSON object per line, so `log tail --format json` pipes into jq.
        println!("{}", serde_json::to_string(e).unwrap_or_default());
        return;
    }
    let version = e.version.as_deref().unwrap_or("?");
    let env = e.environment.as_deref().unwrap_or("-");
    let outcome = match e.outcome {
        EventOutcome::Ok => "ok".to_owned(),
        EventOutcome::Error => format!("{RED}error{RED:#} {}", e.error.as_deref().unwrap_or("")),
    };
    let latency = e.latency_ms.map_or(String::new(), |ms| format!(" {ms} ms"));
    let tokens = match (e.input_tokens, e.output_tokens) {
        (None, None) => String::new(),
        (i, o) => format!(
            " {}→{} tok",
            i.map_or("?".into(), |v| v.to_string()),
            o.map_or("?".into(), |v| v.to_string())
        ),
    };
    let cost = e.cost_usd.map_or(String::new(), |c| format!(" ${c:.6}"));
    let model = e
        .model
        .as_deref()
        .map_or(String::new(), |m| format!(" {DIM}{m}{DIM:#}"));
    println!(
        "{} {}@{version} {env} {outcome}{latency}{tokens}{cost}{model}",
        e.timestamp, e.prompt_id
    );
}
