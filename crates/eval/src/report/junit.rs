//! `-o report.junit.xml` (or any `.xml`): a JUnit XML report as promptfoo writes it
//! (`src/util/junit.ts`), which CI systems show as test results. One `<testsuite>` per
//! provider × prompt, named `[<provider>] prompt <n>`; one `<testcase>` per row, named
//! `test <testIdx+1>: <description or vars>`, sorted by test, with the latency in
//! seconds as its `time`. A failed row has a `<failure>` whose message is the failing
//! reason and whose text adds the score and the failed assertion types; an error row
//! has an `<error>` with the error. Unlike promptfoo (which writes only "Assertion
//! failed"), the reason is included: it is what a reader of the CI page needs.

use super::Context;
use super::describe;
use crate::runner::{Outcome, Row};
use std::collections::HashMap;
use std::io::{self, Write};

const MAX_NAME: usize = 512;
const MAX_MESSAGE: usize = 1024;
const MAX_DETAIL: usize = 8192;

pub fn write(out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    // One suite per prompt × provider that has rows; its figures come from the run's
    // summary, its test cases from one pass over the stored rows.
    let mut suites: Vec<(String, usize)> = Vec::new();
    // Prompts are numbered per provider name, so two providers that share a name keep
    // their suites apart (as promptfoo does).
    let mut ordinals: HashMap<&str, usize> = HashMap::new();
    for slot in describe::slots(cx) {
        if cx.summary.per_prompt[slot.index].rows() == 0 {
            continue;
        }
        let provider = slot.provider.display_name();
        let ordinal = ordinals.entry(provider).or_default();
        *ordinal += 1;
        let name = format!(
            "[{}] prompt {ordinal}",
            describe::truncate(&describe::one_line(provider), MAX_NAME)
        );
        suites.push((name, slot.index));
    }

    let per_prompt = &cx.summary.per_prompt;
    let latency: u64 = per_prompt.iter().map(|p| p.latency_ms).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="promptops" tests="{}" failures="{}" errors="{}" skipped="0" time="{}">"#,
        cx.summary.rows(),
        cx.summary.failures,
        cx.summary.errors,
        time(latency),
    )?;
    for (name, slot) in &suites {
        let p = &per_prompt[*slot];
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}" skipped="0" time="{}" timestamp="{}">"#,
            attr(name),
            p.rows(),
            p.fail,
            p.error,
            time(p.latency_ms),
            attr(cx.started_at),
        )?;
        for row in cx.rows_in_order() {
            let row = row?;
            if row.prompt_idx == *slot {
                testcase(out, cx, name, &row)?;
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn testcase(out: &mut dyn Write, cx: &Context, suite: &str, row: &Row) -> io::Result<()> {
    let step = &*cx.step(row.step)?;
    let name =
        describe::truncate(&describe::one_line(&describe::test_name(step)), MAX_NAME).into_owned();
    let head = format!(
        r#"    <testcase classname="{}" name="{}" time="{}""#,
        attr(suite),
        attr(&name),
        time(row.latency_ms)
    );
    let reason = describe::reason(row);
    match row.outcome {
        Outcome::Pass => writeln!(out, "{head}/>"),
        Outcome::Fail => {
            let mut detail = format!("Score: {}\nReason: {reason}", crate::js_number(row.score));
            let failed: Vec<&str> = row
                .grading
                .iter()
                .flat_map(|g| &g.component_results)
                .filter(|c| !c.pass)
                .map(|c| {
                    c.assertion
                        .get("type")
                        .and_then(|t| t.as_str())
                        .unwrap_or("assertion")
                })
                .collect();
            if !failed.is_empty() {
                detail.push_str("\nFailed assertions:");
                for kind in failed {
                    detail.push_str("\n- ");
                    detail.push_str(kind);
                }
            }
            writeln!(out, "{head}>")?;
            writeln!(
                out,
                r#"      <failure message="{}" type="assertion">{}</failure>"#,
                attr(&message(reason, "Assertion failed")),
                text(&describe::truncate(&detail, MAX_DETAIL)),
            )?;
            writeln!(out, "    </testcase>")
        }
        Outcome::Error => {
            writeln!(out, "{head}>")?;
            writeln!(
                out,
                r#"      <error message="{}" type="error">{}</error>"#,
                attr(&message(reason, "Evaluation error")),
                text(&describe::truncate(reason, MAX_DETAIL)),
            )?;
            writeln!(out, "    </testcase>")
        }
    }
}

/// A one-line message (the reason's white space collapsed), or `fallback` when empty.
fn message(reason: &str, fallback: &str) -> String {
    let line = describe::one_line(reason);
    if line.is_empty() {
        fallback.to_owned()
    } else {
        describe::truncate(&line, MAX_MESSAGE).into_owned()
    }
}

/// Milliseconds as seconds, at most three decimals (`0.012`, `1.5`, `0`).
fn time(ms: u64) -> String {
    crate::js_number(ms as f64 / 1000.0)
}

/// Text content: `&`, `<` and `>` escaped; characters XML 1.0 does not allow replaced.
fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value (in double quotes): also `"` and `'`, and tabs and line breaks
/// as character references so parsers keep them.
fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            // A raw CR would be read back as a line feed.
            '\r' => out.push_str("&#13;"),
            c if allowed_in_xml(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// XML 1.0's `Char` production: tab, line feed, carriage return, and everything from
/// U+0020 except U+FFFE and U+FFFF (Rust `char`s are never surrogates).
fn allowed_in_xml(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Kind;
    use crate::report::test_support::{FAIL_REASON, Fixture};

    #[test]
    fn escaping_covers_markup_quotes_and_invalid_characters() {
        for (input, want_text, want_attr) in [
            ("a<b>&c", "a&lt;b&gt;&amp;c", "a&lt;b&gt;&amp;c"),
            (
                r#"say "hi" it's"#,
                r#"say "hi" it's"#,
                "say &quot;hi&quot; it&apos;s",
            ),
            ("1\n2\t3\r", "1\n2\t3&#13;", "1&#10;2&#9;3&#13;"),
            (
                "nul\u{0}bell\u{7}esc\u{1b}",
                "nul\u{FFFD}bell\u{FFFD}esc\u{FFFD}",
                "nul\u{FFFD}bell\u{FFFD}esc\u{FFFD}",
            ),
            (
                "\u{FFFE}\u{FFFF}é😀\u{85}",
                "\u{FFFD}\u{FFFD}é😀\u{85}",
                "\u{FFFD}\u{FFFD}é😀\u{85}",
            ),
            ("]]>", "]]&gt;", "]]&gt;"),
        ] {
            assert_eq!(text(input), want_text, "{input:?}");
            assert_eq!(attr(input), want_attr, "{input:?}");
        }
    }

    #[test]
    fn times_are_seconds() {
        assert_eq!(time(0), "0");
        assert_eq!(time(12), "0.012");
        assert_eq!(time(1500), "1.5");
    }

    #[test]
    fn report_has_a_suite_per_provider_and_prompt_with_failures_and_errors() {
        let xml = Fixture::new().render(Kind::Junit);
        check_well_formed(&xml);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
        assert!(xml.contains(
            r#"<testsuites name="promptops" tests="12" failures="4" errors="4" skipped="0" time="0.492">"#
        ), "{xml}");
        for suite in [
            "[echo] prompt 1",
            "[echo] prompt 2",
            "[second|echo] prompt 1",
            "[second|echo] prompt 2",
        ] {
            assert!(xml.contains(&format!(r#"<testsuite name="{suite}" tests="3" failures="1" errors="1" skipped="0" time="0.123" timestamp="2026-11-21T14:38:29.620Z">"#)), "{suite}\n{xml}");
        }
        // Test order within a suite, whatever the completion order.
        let first = xml.find(r#"name="test 1: passes""#).unwrap();
        let second = xml
            .find(r#"name="test 2: fails &lt;b&gt;&amp;&lt;/b&gt; | pipe""#)
            .unwrap();
        let third = xml.find(r#"name="test 3: word==cmd""#).unwrap();
        assert!(first < second && second < third, "{xml}");
        assert!(
            xml.contains(
                r#"<testcase classname="[echo] prompt 1" name="test 1: passes" time="0.04"/>"#
            ),
            "{xml}"
        );
        let message = attr(&describe::one_line(FAIL_REASON));
        assert!(
            xml.contains(&format!(
                r#"<failure message="{message}" type="assertion">Score: 0.5"#
            )),
            "{xml}"
        );
        assert!(
            xml.contains("Failed assertions:\n- equals</failure>"),
            "{xml}"
        );
        assert!(xml.contains(r#"<error message="provider error: &lt;boom&gt; &amp; ��" type="error">provider error: &lt;boom&gt; &amp; ��</error>"#), "{xml}");
    }

    /// A small checker: every tag closes in order, attributes are quoted, entities are
    /// known, and no character XML 1.0 forbids appears.
    fn check_well_formed(xml: &str) {
        assert!(
            xml.chars().all(allowed_in_xml),
            "invalid character in\n{xml}"
        );
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = xml
            .strip_prefix("<?xml")
            .and_then(|r| r.split_once("?>"))
            .map(|(_, r)| r)
            .expect("XML declaration");
        while let Some(open) = rest.find('<') {
            check_entities(&rest[..open]);
            let close = rest[open..].find('>').expect("unclosed tag") + open;
            let tag = &rest[open + 1..close];
            rest = &rest[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            assert!(
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "bad tag name {name:?}"
            );
            while !attrs.trim().is_empty() {
                let (key, value) = attrs
                    .trim_start()
                    .split_once("=\"")
                    .expect("attribute without a quoted value");
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric()),
                    "bad attribute {key:?}"
                );
                let end = value.find('"').expect("unterminated attribute");
                assert!(!value[..end].contains('<'), "`<` in attribute");
                check_entities(&value[..end]);
                attrs = &value[end + 1..];
            }
            if !self_closing {
                stack.push(name);
            }
        }
        check_entities(rest);
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    fn check_entities(s: &str) {
        for (i, _) in s.match_indices('&') {
            let entity = &s[i..s[i..].find(';').map_or(s.len(), |e| i + e + 1)];
            assert!(
                [
                    "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#9;", "&#13;"
                ]
                .contains(&entity),
                "bad entity {entity:?}"
            );
        }
    }
}
