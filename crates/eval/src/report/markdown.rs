//! `-o summary.md`: a summary to post as a pull-request comment. A headline (passed,
//! failed, errors, pass rate), a table per prompt × provider (pass rate, average score,
//! tokens, cost, average latency), the regressions and fixes against `--baseline` when
//! one was given, then the failing tests (at most [`MAX_LISTED`]) with their reasons.

use super::Context;
use super::baseline::Change;
use super::describe;
use crate::runner::Outcome;
use std::io::{self, Write};

/// Failing tests, regressions and fixes listed at most (a comment stays readable).
pub const MAX_LISTED: usize = 50;
/// Characters of a reason shown.
const MAX_REASON: usize = 300;
const MAX_PROMPT: usize = 60;

pub fn write(out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    let s = cx.summary;
    let mark = if s.all_passed() { "✅" } else { "❌" };
    writeln!(
        out,
        "## {mark} promptops eval: {} passed, {} failed, {} errors ({:.2}% pass rate)",
        s.successes,
        s.failures,
        s.errors,
        s.pass_rate()
    )?;
    writeln!(out)?;
    let mut facts = Vec::new();
    if let Some(d) = &cx.suite.description {
        facts.push(format!("**{}**", inline(d)));
    }
    facts.push(format!("{} tests", cx.suite.steps.len()));
    facts.push(format!("{:.2} s", cx.run.duration.as_secs_f64()));
    facts.push(format!("{} tokens", s.tokens.total));
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
    writeln!(out, "{}", facts.join(" · "))?;
    writeln!(out)?;

    writeln!(
        out,
        "| Provider | Prompt | Pass rate | Passed | Failed | Errors | Avg score | Tokens | Cost | Avg latency |"
    )?;
    writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")?;
    for slot in describe::slots(cx) {
        let p = &cx.summary.per_prompt[slot.index];
        let n = p.rows();
        writeln!(
            out,
            "| {} | {} | {:.2}% | {} | {} | {} | {:.2} | {} | {} | {:.0} ms |",
            cell(slot.provider.display_name()),
            cell(&describe::truncate(&slot.prompt.label, MAX_PROMPT)),
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

    if let Some(c) = cx.comparison {
        writeln!(out)?;
        writeln!(
            out,
            "### Compared with `{}`: {}",
            c.baseline.replace('`', "'"),
            c.counts_text()
        )?;
        list_changes(out, "Regressions (passed before, not now)", &c.regressions)?;
        list_changes(out, "Fixes (did not pass before, pass now)", &c.fixes)?;
    }

    let failing = cx.summary.failures + cx.summary.errors;
    if failing > 0 {
        writeln!(out)?;
        writeln!(out, "### Failing tests ({failing})")?;
        writeln!(out)?;
        let rows = cx
            .rows_in_order()
            .filter(|r| r.as_ref().map_or(true, |r| r.outcome != Outcome::Pass))
            .take(MAX_LISTED);
        for row in rows {
            let row = &row?;
            let step = &*cx.step(row.step)?;
            let slot_prompt = &cx.suite.prompts[row.prompt];
            writeln!(
                out,
                "- **{}** · {} · `[{}]` {}: {}",
                describe::status(row.outcome),
                inline(&describe::test_name(step)),
                code(cx.providers[row.provider].display_name()),
                inline(&describe::truncate(&slot_prompt.label, MAX_PROMPT)),
                inline(&describe::truncate(describe::reason(row), MAX_REASON)),
            )?;
        }
        if failing > MAX_LISTED {
            writeln!(out, "- … and {} more", failing - MAX_LISTED)?;
        }
    }
    Ok(())
}

fn list_changes(out: &mut dyn Write, title: &str, changes: &[Change]) -> io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "**{title}: {}**", changes.len())?;
    writeln!(out)?;
    for ch in changes.iter().take(MAX_LISTED) {
        let reason = if ch.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", inline(&describe::truncate(&ch.reason, MAX_REASON)))
        };
        writeln!(
            out,
            "- {} → **{}** · {} · `[{}]` {}{reason}",
            describe::status(ch.before),
            describe::status(ch.now),
            inline(&ch.name()),
            code(&ch.key.provider),
            inline(&describe::truncate(&ch.key.prompt, MAX_PROMPT)),
        )?;
    }
    if changes.len() > MAX_LISTED {
        writeln!(out, "- … and {} more", changes.len() - MAX_LISTED)?;
    }
    Ok(())
}

/// Text for a line of Markdown: on one line, with every character GitHub Markdown
/// would read as markup (emphasis, code, links, HTML, entities, tables, math)
/// backslash-escaped, so model output cannot format the comment; control characters
/// are replaced.
fn inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in describe::one_line(s).chars() {
        if "\\`*_[]<>|#~$&".contains(c) {
            out.push('\\');
        }
        out.push(if c.is_control() { '\u{FFFD}' } else { c });
    }
    out
}

/// A table cell: escaped like [`inline`] (so `|` cannot end the cell), line breaks as
/// `<br>`.
fn cell(s: &str) -> String {
    s.split('\n')
        .map(|line| inline(line.trim_end_matches('\r')))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// Text for inside a code span: backticks and line breaks would end or break it.
fn code(s: &str) -> String {
    describe::one_line(s).replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Kind;
    use crate::report::test_support::Fixture;

    #[test]
    fn markup_is_escaped_in_text_and_cells() {
        assert_eq!(
            inline("a | b *c* <x> `d`\nnext"),
            r"a \| b \*c\* \<x\> \`d\` next"
        );
        assert_eq!(inline("ok: 50% {done}, v1.2/3?"), "ok: 50% {done}, v1.2/3?");
        assert_eq!(inline("a\u{1}b"), "a\u{FFFD}b");
        assert_eq!(cell("one|two\r\nthree"), r"one\|two<br>three");
        assert_eq!(code("a`b\nc"), "a'b c");
    }

    #[test]
    fn summary_has_headline_table_and_failures() {
        let md = Fixture::new().render(Kind::Markdown);
        assert!(
            md.starts_with(
                "## ❌ promptops eval: 4 passed, 4 failed, 4 errors (33.33% pass rate)\n"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                r#"**fixture \<suite\> \& "co"** · 3 tests · 1.23 s · 120 tokens · cost $0.000016"#
            ),
            "{md}"
        );
        assert!(
            md.contains(r"| second\|echo | Shout {{word}} | 33.33% | 1 | 1 | 1 | 0.50 | 30 | $0.000004 | 41 ms |"),
            "{md}"
        );
        assert!(md.contains("### Failing tests (8)"), "{md}");
        assert!(
            md.contains(r#"- **FAIL** · test 2: fails \<b\>\&\</b\> \| pipe · `[echo]` Say {{word}}: Expected "\<x\>" \& 'y' \| z"#),
            "{md}"
        );
        assert!(!md.contains("Compared with"), "no baseline, no comparison");
        // Each table row has the header's number of cells.
        for line in md.lines().filter(|l| l.starts_with('|')) {
            let cells = line.replace(r"\|", "").matches('|').count();
            assert_eq!(cells, 11, "{line}");
        }
    }
}
