//! `-o results.csv`: one line per test (step), like promptfoo's CSV export
//! (`src/util/eval/evalTableUtils.ts`): `Description` (when some test has one), the var
//! columns, then per prompt × provider a `[<provider>] <prompt label>` column and
//! promptfoo's `Status`, `Score`, `Named Scores`, `Metric: <name>`…, `Grader Reason` and
//! `Comment` columns. The first column holds what promptfoo's result table shows:
//! `[PASS] <output>`, `[FAIL] <reason>\n---\n<output>` or `[ERROR] <error>`. Cells that
//! a spreadsheet would run as a formula (`=`, `@`, or `+`/`-` before something that is
//! not a number) get a leading `'`, as promptfoo does.

use super::Context;
use super::describe::{self, Slot};
use crate::runner::{Outcome, Row};
use serde_json::{Map, Value as Json};
use std::io::{self, Write};

pub fn write(out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    let slots = describe::slots(cx);
    let metrics: Vec<Vec<&String>> = slots
        .iter()
        .map(|s| cx.summary.per_prompt[s.index].named_counts.keys().collect())
        .collect();
    let with_description = cx.suite.steps.any_description();

    let mut header: Vec<String> = Vec::new();
    if with_description {
        header.push("Description".into());
    }
    header.extend(cx.suite.var_names.iter().cloned());
    for (slot, metrics) in slots.iter().zip(&metrics) {
        header.push(column_name(slot));
        header.extend(["Status", "Score", "Named Scores"].map(String::from));
        header.extend(metrics.iter().map(|m| format!("Metric: {m}")));
        header.extend(["Grader Reason", "Comment"].map(String::from));
    }

    let mut csv = ::csv::WriterBuilder::new().from_writer(out);
    csv.write_record(header.iter().map(|h| escape_formula(h).into_owned()))?;
    // Rows by step, in prompt × provider order (a row is missing where a test's filters
    // leave its pair out, or the run was interrupted); a step with no rows has no line,
    // as in promptfoo's table.
    for step_rows in cx.rows_by_step() {
        let super::StepRows { step, rows } = step_rows?;
        if rows.iter().all(Option::is_none) {
            continue;
        }
        let mut record: Vec<String> = Vec::with_capacity(header.len());
        if with_description {
            record.push(step.test.description.clone().unwrap_or_default());
        }
        for name in &cx.suite.var_names {
            record.push(
                step.vars
                    .get(name)
                    .map_or(String::new(), |v| describe::value_text(v).into_owned()),
            );
        }
        for (row, metrics) in rows.iter().zip(&metrics) {
            let Some(row) = row else {
                record.extend(std::iter::repeat_n(String::new(), 6 + metrics.len()));
                continue;
            };
            let named = row.grading.as_ref().map(|g| &g.named_scores);
            record.push(cell(row));
            record.push(describe::status(row.outcome).into());
            record.push(format!("{:.2}", row.score));
            record.push(named.map_or(String::new(), named_scores));
            for m in metrics {
                record.push(
                    named
                        .and_then(|n| n.get(*m))
                        .map_or(String::new(), |v| format!("{v:.2}")),
                );
            }
            record.push(
                row.grading
                    .as_ref()
                    .map_or(String::new(), |g| g.reason.clone()),
            );
            record.push(String::new());
        }
        csv.write_record(record.iter().map(|c| escape_formula(c).into_owned()))?;
    }
    csv.flush()
}

/// `[<provider>] <prompt label>`.
fn column_name(slot: &Slot) -> String {
    format!("[{}] {}", slot.provider.display_name(), slot.prompt.label)
}

/// The result as promptfoo's table shows it.
fn cell(row: &Row) -> String {
    let output = describe::output_text(row);
    match row.outcome {
        Outcome::Pass => format!("[PASS] {output}"),
        Outcome::Fail => format!("[FAIL] {}\n---\n{output}", describe::reason(row)),
        Outcome::Error => format!("[ERROR] {}", describe::reason(row)),
    }
}

/// `{"accuracy":0.5}` with two decimals, or empty when there are none.
fn named_scores(scores: &std::collections::BTreeMap<String, f64>) -> String {
    if scores.is_empty() {
        return String::new();
    }
    let rounded: Map<String, Json> = scores
        .iter()
        .map(|(k, v)| (k.clone(), crate::number((v * 100.0).round() / 100.0)))
        .collect();
    Json::Object(rounded).to_string()
}

/// A leading `'` on cells a spreadsheet would evaluate (CWE-1236): after leading white
/// space and zero-width spaces, `=` or `@`, or `+`/`-` not starting a number.
fn escape_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    let unpadded = cell
        .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}'));
    let risky = match unpadded.chars().next() {
        Some('=' | '@') => true,
        Some('+' | '-') => unpadded
            .trim_end()
            .parse::<f64>()
            .map_or(true, |n| !n.is_finite()),
        _ => false,
    };
    if risky {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Kind;
    use crate::report::test_support::{ERROR_TEXT, FAIL_REASON, Fixture};

    #[test]
    fn formulas_are_neutralised_but_numbers_are_not() {
        for (cell, want) in [
            ("=SUM(A1)", "'=SUM(A1)"),
            ("  @cmd", "'  @cmd"),
            ("\u{200B}=1+1", "'\u{200B}=1+1"),
            ("-1.5", "-1.5"),
            ("+3", "+3"),
            ("-x", "'-x"),
            ("+", "'+"),
            ("plain = text", "plain = text"),
            ("", ""),
        ] {
            assert_eq!(escape_formula(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn one_line_per_test_with_a_column_group_per_prompt_and_provider() {
        let text = Fixture::new().render(Kind::Csv);
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let group = [
            "Status",
            "Score",
            "Named Scores",
            "Metric: accuracy",
            "Grader Reason",
            "Comment",
        ];
        let mut want = vec!["Description".to_owned(), "word".into(), "n".into()];
        for column in [
            "[echo] Say {{word}}",
            "[echo] Shout {{word}}",
            "[second|echo] Say {{word}}",
            "[second|echo] Shout {{word}}",
        ] {
            want.push(column.into());
            want.extend(group.map(String::from));
        }
        assert_eq!(header, want);
        let records: Vec<::csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 3, "{text}");

        let pass = &records[0];
        assert_eq!(&pass[0], "passes");
        assert_eq!(&pass[1], "hello");
        assert_eq!(&pass[2], "");
        assert_eq!(&pass[3], "[PASS] <echo> hello & more");
        assert_eq!(&pass[4], "PASS");
        assert_eq!(&pass[5], "1.00");
        assert_eq!(&pass[6], r#"{"accuracy":1}"#);
        assert_eq!(&pass[7], "1.00");
        assert_eq!(&pass[8], "All assertions passed");

        let fail = &records[1];
        assert_eq!(&fail[0], "fails <b>&</b> | pipe");
        assert_eq!(&fail[1], "a\u{1}b");
        assert_eq!(&fail[2], "2");
        assert_eq!(
            &fail[3],
            format!("[FAIL] {FAIL_REASON}\n---\n<echo> a\u{1}b & more")
        );
        assert_eq!(&fail[4], "FAIL");
        assert_eq!(&fail[5], "0.50");
        assert_eq!(&fail[6], r#"{"accuracy":0.5}"#);
        assert_eq!(&fail[8], FAIL_REASON);

        let error = &records[2];
        assert_eq!(&error[0], "", "no description");
        assert_eq!(&error[1], "'=cmd", "formula escaped");
        assert_eq!(&error[3], format!("[ERROR] {ERROR_TEXT}"));
        assert_eq!(&error[4], "ERROR");
        assert_eq!(&error[5], "0.00");
        assert_eq!(&error[6], "");
        assert_eq!(&error[8], "");
        assert!(records.iter().all(|r| r.len() == want.len()));
    }
}
