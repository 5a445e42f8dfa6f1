//! `-o report.html`: one self-contained page (inline CSS, no external assets): a summary
//! header, a table per prompt × provider, the comparison with `--baseline` when given,
//! and every row (test, vars, provider, prompt, result, score, latency, output, failure
//! reason). It reads fully without JavaScript; a few lines of inline script add a
//! "failures only" switch and a text filter. Every string from the suite, the providers
//! or the models is HTML-escaped.

use super::Context;
use super::baseline::Change;
use super::describe;
use crate::runner::Outcome;
use promptops_core::html::escape as esc;
use std::io::{self, Write};

/// Characters of an output or reason shown per row (the JSON report has them whole).
const MAX_TEXT: usize = 4000;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.headline{font-size:18px;font-weight:600;margin:8px 0}.ok{color:#1a7f37}.bad{color:#cf222e}
.facts{color:#59636e;margin:0}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #d1d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
td.num{text-align:right;white-space:nowrap}
pre{margin:0;white-space:pre-wrap;word-break:break-word;max-height:16em;overflow:auto;font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
tr.FAIL td.status{background:#ffebe9;color:#cf222e;font-weight:600}
tr.ERROR td.status{background:#fff1e5;color:#bc4c00;font-weight:600}
tr.PASS td.status{background:#dafbe1;color:#1a7f37;font-weight:600}
.filters{margin:8px 0}.filters input[type=search]{width:20em;margin-left:12px}
ul.changes li{margin:2px 0}
";

const SCRIPT: &str = "
(function(){
var f=document.getElementById('filters');f.hidden=false;
var only=document.getElementById('only-failing'),q=document.getElementById('q');
var rows=document.querySelectorAll('#rows tbody tr');
function apply(){var t=q.value.toLowerCase();
for(var i=0;i<rows.length;i++){var r=rows[i];
r.hidden=(only.checked&&r.className==='PASS')||(t!==''&&r.textContent.toLowerCase().indexOf(t)<0);}}
only.addEventListener('change',apply);q.addEventListener('input',apply);
})();
";

pub fn write(out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    let s = cx.summary;
    let title = match &cx.suite.description {
        Some(d) => format!("promptops eval: {d}"),
        None => "promptops eval".to_owned(),
    };
    writeln!(out, "<!DOCTYPE html>")?;
    writeln!(out, r#"<html lang="en"><head><meta charset="utf-8">"#)?;
    writeln!(
        out,
        r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#
    )?;
    writeln!(out, "<title>{}</title>", esc(&title))?;
    writeln!(out, "<style>{STYLE}</style></head><body>")?;
    writeln!(out, "<header><h1>{}</h1>", esc(&title))?;
    writeln!(
        out,
        r#"<p class="headline {}">{} passed, {} failed, {} errors ({:.2}% pass rate)</p>"#,
        if s.all_passed() { "ok" } else { "bad" },
        s.successes,
        s.failures,
        s.errors,
        s.pass_rate()
    )?;
    let mut facts = vec![
        format!("started {}", cx.started_at),
        format!("{:.2} s", cx.run.duration.as_secs_f64()),
        format!("{} tests", cx.suite.steps.len()),
        format!(
            "{} tokens ({} prompt, {} completion) in {} requests",
            s.tokens.total, s.tokens.prompt, s.tokens.completion, s.tokens.num_requests
        ),
    ];
    if let Some(cost) = describe::total_cost(cx) {
        facts.push(format!("cost {cost}"));
    }
    if cx.run.interrupted {
        facts.push(format!(
            "interrupted after {} of {} rows",
            cx.run.rows.len(),
            cx.run.total_jobs
        ));
    }
    writeln!(
        out,
        r#"<p class="facts">{}</p></header>"#,
        esc(&facts.join(" · "))
    )?;

    writeln!(out, "<h2>By prompt and provider</h2>")?;
    writeln!(
        out,
        "<table><thead><tr><th>Provider</th><th>Prompt</th><th>Pass rate</th><th>Passed</th><th>Failed</th><th>Errors</th><th>Avg score</th><th>Tokens</th><th>Cost</th><th>Avg latency</th></tr></thead><tbody>"
    )?;
    for slot in describe::slots(cx) {
        let p = &s.per_prompt[slot.index];
        let n = p.rows();
        writeln!(
            out,
            r#"<tr><td>{}</td><td><pre>{}</pre></td><td class="num">{:.2}%</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.2}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.0} ms</td></tr>"#,
            esc(slot.provider.display_name()),
            esc(&slot.prompt.label),
            describe::pass_rate(p.pass, n),
            p.pass,
            p.fail,
            p.error,
            p.mean_score(),
            p.tokens.total,
            describe::slot_cost(cx, slot.index).map_or("–".to_owned(), |c| c.to_string()),
            p.mean_latency_ms(),
        )?;
    }
    writeln!(out, "</tbody></table>")?;

    if let Some(c) = cx.comparison {
        writeln!(
            out,
            "<h2>Compared with {}: {}</h2>",
            esc(&c.baseline),
            esc(&c.counts_text())
        )?;
        changes(out, "Regressions (passed before, not now)", &c.regressions)?;
        changes(out, "Fixes (did not pass before, pass now)", &c.fixes)?;
    }

    writeln!(out, "<h2>Results</h2>")?;
    writeln!(
        out,
        r#"<div id="filters" class="filters" hidden><label><input type="checkbox" id="only-failing"> failures and errors only</label><input type="search" id="q" placeholder="filter rows" aria-label="filter rows"></div>"#
    )?;
    writeln!(
        out,
        r#"<table id="rows"><thead><tr><th>Test</th><th>Vars</th><th>Provider</th><th>Prompt</th><th>Result</th><th>Score</th><th>Latency</th><th>Output</th><th>Failure reason</th></tr></thead><tbody>"#
    )?;
    for row in cx.rows_in_order() {
        let row = &row?;
        let step = &*cx.step(row.step)?;
        let status = describe::status(row.outcome);
        let reason = if row.outcome == Outcome::Pass {
            ""
        } else {
            describe::reason(row)
        };
        writeln!(
            out,
            r#"<tr class="{status}"><td>{}</td><td><pre>{}</pre></td><td>{}</td><td><pre>{}</pre></td><td class="status">{status}</td><td class="num">{:.2}</td><td class="num">{} ms</td><td><pre>{}</pre></td><td><pre>{}</pre></td></tr>"#,
            esc(&describe::test_name(step)),
            esc(&describe::vars_text(&step.vars)),
            esc(cx.providers[row.provider].display_name()),
            esc(&describe::truncate(
                &cx.suite.prompts[row.prompt].label,
                200
            )),
            row.score,
            row.latency_ms,
            esc(&describe::truncate(&describe::output_text(row), MAX_TEXT)),
            esc(&describe::truncate(reason, MAX_TEXT)),
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(out, "<script>{SCRIPT}</script>")?;
    writeln!(out, "</body></html>")
}

fn changes(out: &mut dyn Write, title: &str, changes: &[Change]) -> io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<h3>{title}: {}</h3><ul class=\"changes\">",
        changes.len()
    )?;
    for ch in changes {
        writeln!(
            out,
            "<li>{} → <strong>{}</strong> · {} · [{}] {}{}</li>",
            describe::status(ch.before),
            describe::status(ch.now),
            esc(&ch.name()),
            esc(&ch.key.provider),
            esc(&describe::truncate(&ch.key.prompt, 80)),
            if ch.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", esc(&describe::truncate(&ch.reason, 300)))
            }
        )?;
    }
    writeln!(out, "</ul>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Kind;
    use crate::report::test_support::{FAIL_REASON, Fixture};

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{0}b\u{1b}c\n\td"), "a\u{FFFD}b\u{FFFD}c\n\td");
    }

    #[test]
    fn page_is_self_contained_and_escapes_every_dynamic_string() {
        let html = Fixture::new().render(Kind::Html);
        assert!(html.starts_with("<!DOCTYPE html>\n"), "{html}");
        assert!(html.trim_end().ends_with("</body></html>"));
        assert!(
            !html.contains("src=") && !html.contains("href=") && !html.contains("@import"),
            "no external assets"
        );
        assert!(
            html.contains(
                "<title>promptops eval: fixture &lt;suite&gt; &amp; &quot;co&quot;</title>"
            ),
            "{html}"
        );
        assert!(html.contains(
            r#"<p class="headline bad">4 passed, 4 failed, 4 errors (33.33% pass rate)</p>"#
        ));
        // The only tags are the page's own: no tag comes from the data.
        for tag in ["<echo>", "<b>", "<x>", "<boom>", "<suite>"] {
            assert!(!html.contains(tag), "unescaped {tag}");
        }
        assert!(html.contains("&lt;echo&gt; hello &amp; more"));
        assert!(html.contains("test 2: fails &lt;b&gt;&amp;&lt;/b&gt; | pipe"));
        assert!(html.contains(&esc(FAIL_REASON)), "{html}");
        assert!(html.contains(r#"<td>second|echo</td><td><pre>Shout {{word}}</pre></td><td class="num">33.33%</td>"#), "{html}");
        assert_eq!(html.matches(r#"<tr class="FAIL">"#).count(), 4);
        assert_eq!(html.matches(r#"<tr class="ERROR">"#).count(), 4);
        assert_eq!(html.matches(r#"<tr class="PASS">"#).count(), 4);
        assert!(!html.contains('\u{0}') && !html.contains('\u{1}'));
    }
}
