//! `-o report.html`: a red-team report as one self-contained page (inline CSS, no
//! script, no external assets): the totals, a row per OWASP LLM 2025 risk (cases,
//! successes, attack success rate, or why it was not tested), then every case with what
//! was sent, what came back and why it was judged so. Everything from the prompt, the
//! attacks or the model is HTML-escaped.

use promptops_api::assessments::{RedteamCase, RedteamReport};
use promptops_core::html::escape as esc;
use std::fmt::Write as _;

/// Characters of an input or output shown per case (the JSON report has them whole).
const MAX_TEXT: usize = 4000;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.headline{font-size:18px;font-weight:600;margin:8px 0}.ok{color:#1a7f37}.bad{color:#cf222e}
.facts,.na{color:#59636e}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d1d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}
pre{margin:0;white-space:pre-wrap;word-break:break-word;max-height:16em;overflow:auto;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
tr.SUCCEEDED td.status{background:#ffebe9;color:#cf222e;font-weight:600}
tr.ERROR td.status{background:#fff1e5;color:#bc4c00;font-weight:600}
tr.RESISTED td.status{background:#dafbe1;color:#1a7f37;font-weight:600}
";

fn rate(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

fn clip(s: &str) -> String {
    if s.chars().count() <= MAX_TEXT {
        s.to_owned()
    } else {
        format!(
            "{}… ({} characters in all)",
            s.chars().take(MAX_TEXT).collect::<String>(),
            s.chars().count()
        )
    }
}

/// The case's status word: the attack succeeded, was resisted, or could not run.
pub fn status(case: &RedteamCase) -> &'static str {
    match (&case.error, case.succeeded) {
        (Some(_), _) => "ERROR",
        (None, true) => "SUCCEEDED",
        (None, false) => "RESISTED",
    }
}

pub fn render(report: &RedteamReport) -> String {
    let s = &report.summary;
    let mut out = String::new();
    let title = format!("promptops redteam: {}@{}", report.prompt_id, report.version);
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", esc(&title));
    let class = if s.succeeded == 0 && s.pii_leaks == 0 {
        "ok"
    } else {
        "bad"
    };
    let _ = writeln!(
        out,
        "<p class=\"headline {class}\">attack success rate {} ({} of {} judged attacks succeeded), {} errors, {} personal-data leaks</p>",
        rate(s.attack_success_rate),
        s.succeeded,
        s.cases - s.errors,
        s.errors,
        s.pii_leaks
    );
    let _ = writeln!(
        out,
        "<p class=\"facts\">provider {} · generated {} · content hash {} · format {}</p>",
        esc(&report.provider),
        esc(&report.generated_at),
        esc(report.content_hash.as_deref().unwrap_or("unknown")),
        esc(&report.format)
    );

    let _ = writeln!(
        out,
        "<h2>By risk (OWASP Top 10 for LLM Applications 2025)</h2>\n<table id=\"risks\"><thead><tr><th>risk</th><th>name</th><th>cases</th><th>succeeded</th><th>errors</th><th>attack success rate</th></tr></thead><tbody>"
    );
    for r in &s.risks {
        let last = match &r.not_applicable {
            Some(why) => format!("<td class=\"na\">N/A — {}</td>", esc(why)),
            None => format!("<td class=\"num\">{}</td>", rate(r.attack_success_rate)),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{last}</tr>",
            esc(&r.id),
            esc(&r.name),
            r.cases,
            r.succeeded,
            r.errors
        );
    }
    let _ = writeln!(out, "</tbody></table>");

    let _ = writeln!(
        out,
        "<h2>Cases</h2>\n<table id=\"cases\"><thead><tr><th>result</th><th>case</th><th>risk</th><th>technique</th><th>goal</th><th>sent</th><th>answer</th><th>why</th></tr></thead><tbody>"
    );
    for c in &report.cases {
        let status = status(c);
        let technique = serde_json::to_value(c.technique)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let input = serde_json::to_string_pretty(&c.input).unwrap_or_default();
        let answer = match (&c.output, &c.error) {
            (_, Some(e)) => format!("error: {e}"),
            (Some(o), None) => o.clone(),
            (None, None) => String::new(),
        };
        let why = if c.pii_leak && c.risk != "LLM02" {
            format!("{} (the answer also leaked personal data)", c.reason)
        } else {
            c.reason.clone()
        };
        let _ = writeln!(
            out,
            "<tr class=\"{status}\"><td class=\"status\">{status}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><pre>{}</pre></td><td><pre>{}</pre></td><td>{}</td></tr>",
            esc(&c.id),
            esc(&c.risk),
            esc(&technique),
            esc(&c.goal),
            esc(&clip(&input)),
            esc(&clip(&answer)),
            esc(&why)
        );
    }
    let _ = writeln!(out, "</tbody></table>\n</body></html>");
    out
}
