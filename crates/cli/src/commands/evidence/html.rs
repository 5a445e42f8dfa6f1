//! An evidence pack as one self-contained HTML file: readable by a person (no script,
//! no network, inline CSS), and carrying the pack's JSON whole so that
//! `promptops audit verify --checkpoints --pack pack.html` checks the very file that
//! was handed over.

use promptops_api::{EvidencePack, Version};
use promptops_core::html::escape as esc;
use serde_json::Value as Json;
use std::fmt::Write as _;

/// Where the embedded JSON starts (the reader looks for exactly this).
pub const JSON_OPEN: &str = "<script type=\"application/json\" id=\"promptops-evidence\">";

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1f24}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f6f8fa}code,pre{font:12px/1.4 ui-monospace,monospace}pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}\
.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}.muted{color:#57606a}.hash{word-break:break-all}";

/// The pack as HTML.
pub fn render(pack: &EvidencePack) -> String {
    let v = &pack.version;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Evidence · {id}@{ver}</title><style>{CSS}</style></head><body>\
         <h1>Evidence pack: {id}@{ver}</h1>\
         <p class=\"muted\">Project {project} · generated {at} · format {format}. \
         Verify offline: <code>promptops audit verify --checkpoints --pack THIS_FILE --key SERVER_KEY</code></p>",
        id = esc(&v.id),
        ver = esc(&v.version),
        project = esc(&pack.project),
        at = esc(&pack.generated_at),
        format = esc(&pack.format),
    );
    version(&mut h, v);
    lineage(&mut h, pack);
    compliance(&mut h, pack);
    evals(&mut h, pack);
    redteam(&mut h, pack);
    compatibility(&mut h, pack);
    approvals(&mut h, pack);
    labels(&mut h, pack);
    audit(&mut h, pack);
    let json = serde_json::to_string(pack).unwrap_or_default();
    // `<` never appears raw inside the script element, so nothing in the data can end it.
    let _ = writeln!(
        h,
        "{JSON_OPEN}{}</script></body></html>",
        json.replace('<', "\\u003c")
    );
    h
}

fn version(h: &mut String, v: &Version) {
    let _ = write!(
        h,
        "<h2>Version</h2><table><tr><th>Content hash (SHA-256 of the canonical content)</th><td class=\"hash\"><code>{}</code></td></tr>\
         <tr><th>Author</th><td>{}</td></tr><tr><th>Published</th><td>{}</td></tr>\
         <tr><th>Changelog</th><td>{}</td></tr></table>\
         <h3>The file as pushed</h3><pre>{}</pre>",
        esc(&v.content_hash),
        esc(&v.author),
        esc(&v.created_at),
        esc(&text_of(v.changelog.as_ref())),
        esc(&v.source),
    );
}

fn lineage(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Lineage</h2>");
    match (&pack.version.parent, &pack.diff_from_parent) {
        (Some(parent), Some(diff)) => {
            let verdict = diff
                .diff
                .get("verdict")
                .map(Json::to_string)
                .unwrap_or_default();
            let _ = write!(
                h,
                "<p>Parent: <strong>{}</strong>. Semver verdict: <code>{}</code></p><pre>{}</pre>",
                esc(parent),
                esc(&verdict),
                esc(&diff.source_diff)
            );
        }
        _ => h.push_str("<p>No parent: the first version of this prompt.</p>"),
    }
}

fn compliance(h: &mut String, pack: &EvidencePack) {
    let c = &pack.completeness;
    h.push_str("<h2>Compliance</h2>");
    match &c.risk_tier {
        None => h.push_str("<p>The prompt declares no risk tier.</p>"),
        Some(tier) => {
            let state = if c.missing.is_empty() {
                "<span class=\"ok\">complete</span>".to_owned()
            } else {
                format!(
                    "<span class=\"bad\">missing {}</span>",
                    esc(&c.missing.join(", "))
                )
            };
            let _ = write!(
                h,
                "<p>Risk tier <strong>{}</strong>: requires {}; {state}.</p>",
                esc(tier),
                esc(&if c.required.is_empty() {
                    "nothing".to_owned()
                } else {
                    c.required.join(", ")
                }),
            );
        }
    }
    if let Some(meta) = pack.version.content.get("compliance") {
        let _ = write!(
            h,
            "<pre>{}</pre>",
            esc(&serde_json::to_string_pretty(meta).unwrap_or_default())
        );
    }
}

fn evals(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Eval runs</h2>");
    if pack.eval_runs.is_empty() {
        h.push_str("<p>None attached.</p>");
        return;
    }
    h.push_str("<table><tr><th>Run</th><th>Passed</th><th>Failed</th><th>Errors</th><th>Attached by</th><th>At</th></tr>");
    for r in &pack.eval_runs {
        let _ = write!(
            h,
            "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>",
            r.id,
            r.passed,
            r.failed,
            r.errors,
            esc(&r.actor),
            if r.ci_key { " (CI key)" } else { "" },
            esc(&r.created_at)
        );
    }
    h.push_str("</table>");
}

fn redteam(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Red team</h2>");
    let Some(run) = pack.redteam.last() else {
        h.push_str("<p>No red-team report attached.</p>");
        return;
    };
    let s = &run.summary;
    let _ = write!(
        h,
        "<p>Newest of {} reports: #{} against <code>{}</code> by {} at {}. {} cases, {} attacks succeeded, attack success rate {}, {} PII leaks.</p>\
         <table><tr><th>Risk</th><th>Name</th><th>Cases</th><th>Succeeded</th><th>Attack success rate</th></tr>",
        pack.redteam.len(),
        run.id,
        esc(&run.provider),
        esc(&run.actor),
        esc(&run.created_at),
        s.cases,
        s.succeeded,
        rate(s.attack_success_rate),
        s.pii_leaks
    );
    for r in &s.risks {
        let asr = match &r.not_applicable {
            Some(why) => format!("N/A — {}", esc(why)),
            None => rate(r.attack_success_rate),
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{asr}</td></tr>",
            esc(&r.id),
            esc(&r.name),
            r.cases,
            r.succeeded
        );
    }
    h.push_str("</table>");
}

fn compatibility(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Compatibility</h2>");
    let Some(m) = pack.compatibility.as_ref().filter(|m| !m.models.is_empty()) else {
        h.push_str("<p>Nothing recorded or declared.</p>");
        return;
    };
    h.push_str("<table><tr><th>Model</th><th>Measured</th><th>Pass rate</th><th>Declared</th><th>Agrees</th></tr>");
    for c in &m.models {
        let measured = c.recorded.as_ref().map_or("—", |r| r.verdict.as_str());
        let pass = c
            .recorded
            .as_ref()
            .map_or_else(|| "—".to_owned(), |r| rate(r.pass_rate));
        let declared = c.declared.map_or("—", |d| d.as_str());
        let agrees = match c.agrees {
            Some(true) => "<span class=\"ok\">yes</span>",
            Some(false) => "<span class=\"bad\">no</span>",
            None => "—",
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{measured}</td><td>{pass}</td><td>{declared}</td><td>{agrees}</td></tr>",
            esc(&c.model)
        );
    }
    h.push_str("</table>");
}

fn approvals(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Promotion requests and approvals</h2>");
    if pack.requests.is_empty() {
        h.push_str("<p>None.</p>");
        return;
    }
    for r in &pack.requests {
        let _ = write!(
            h,
            "<h3>Request #{} to {} — {:?}</h3><p>Requested by {} at {}{}</p>",
            r.id,
            esc(&r.environment),
            r.status,
            esc(&r.requested_by),
            esc(&r.requested_at),
            r.reason
                .as_deref()
                .map(|x| format!(": “{}”", esc(x)))
                .unwrap_or_default()
        );
        if r.decisions.is_empty() {
            h.push_str("<p>No decisions.</p>");
            continue;
        }
        h.push_str("<table><tr><th>Decision</th><th>By</th><th>Role</th><th>At</th><th>Comment</th><th>Checklist</th></tr>");
        for d in &r.decisions {
            let _ = write!(
                h,
                "<tr><td>{:?}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.verdict,
                esc(&d.actor),
                d.role,
                esc(&d.at),
                esc(d.comment.as_deref().unwrap_or("")),
                esc(&d.checklist.join("; "))
            );
        }
        h.push_str("</table>");
    }
}

fn labels(h: &mut String, pack: &EvidencePack) {
    h.push_str("<h2>Label history</h2>");
    if pack.label_history.is_empty() {
        h.push_str("<p>No environment has served this version.</p>");
        return;
    }
    h.push_str("<table><tr><th>Environment</th><th>From</th><th>To</th><th>Kind</th><th>By</th><th>At</th><th>Reason</th></tr>");
    for m in &pack.label_history {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.environment),
            esc(m.from_version.as_deref().unwrap_or("—")),
            esc(&m.to_version),
            m.kind,
            esc(&m.actor),
            esc(&m.moved_at),
            esc(m
                .override_reason
                .as_deref()
                .or(m.reason.as_deref())
                .unwrap_or(""))
        );
    }
    h.push_str("</table>");
}

fn audit(h: &mut String, pack: &EvidencePack) {
    let a = &pack.audit;
    let c = &a.checkpoint;
    let _ = write!(
        h,
        "<h2>Audit trail</h2><p>{} events, each with an inclusion proof against checkpoint {} \
         (root <code class=\"hash\">{}</code>, signed {} with Ed25519 key <code class=\"hash\">{}</code>); \
         {} earlier checkpoints with consistency proofs.</p>\
         <table><tr><th>#</th><th>At</th><th>Actor</th><th>Action</th><th>Target</th><th>Hash</th></tr>",
        a.events.len(),
        c.size,
        esc(&c.root),
        esc(&c.signed_at),
        esc(&c.public_key),
        a.earlier.len()
    );
    for e in &a.events {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"hash\"><code>{}</code></td></tr>",
            e.seq,
            esc(&e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.target),
            esc(&e.hash[..e.hash.len().min(16)])
        );
    }
    h.push_str("</table>");
}

fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_owned(), |x| format!("{:.1}%", x * 100.0))
}

fn text_of(value: Option<&Json>) -> String {
    match value {
        None => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
