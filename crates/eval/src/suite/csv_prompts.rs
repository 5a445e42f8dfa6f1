//! Prompts from a `.csv` file, as promptfoo 0.123.1's `processCsvPrompts` reads them
//! (`docs/research/promptfoo-compat.md` §1.2):
//! - a file with a comma is a table whose `prompt` column gives one prompt per row (rows
//!   without one are skipped) and whose optional `label` column names it; cells are
//!   trimmed, a BOM is dropped, empty lines are skipped;
//! - a file without a comma, or one that is not a well-formed table, has a prompt per
//!   non-empty line (a first line `prompt` is a header);
//! - a row without its own label is named `<entry label>: <text>` (when the file has
//!   several rows) or the entry's label, else `Prompt <n> - <text>`; a name already taken
//!   gets ` (row <n>)` added.

use std::collections::HashSet;

/// The prompts of the file as `(text, label)`, in file order.
pub(super) fn prompts(text: &str, entry_label: Option<&str>) -> Vec<(String, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let rows = if text.contains(',') {
        table_rows(text).unwrap_or_else(|| line_rows(text))
    } else {
        line_rows(text)
    };
    labelled(rows, entry_label)
}

/// `(prompt, label)` of each row with a `prompt`; `None` when the text is not a table.
fn table_rows(text: &str) -> Option<Vec<(String, Option<String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().ok()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (prompt, label) = (column("prompt"), column("label"));
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.ok()?;
        let Some(raw) = prompt.and_then(|i| record.get(i)).filter(|p| !p.is_empty()) else {
            continue;
        };
        let label = label
            .and_then(|i| record.get(i))
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        rows.push((raw.to_owned(), label));
    }
    Some(rows)
}

/// A prompt per non-empty line, without a leading `prompt` header.
fn line_rows(text: &str) -> Vec<(String, Option<String>)> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let skip = usize::from(
        lines
            .first()
            .is_some_and(|l| l.trim().eq_ignore_ascii_case("prompt")),
    );
    lines[skip..]
        .iter()
        .map(|l| ((*l).to_owned(), None))
        .collect()
}

/// promptfoo's `buildCsvPrompts`: labels for rows that have none, made unique.
fn labelled(
    rows: Vec<(String, Option<String>)>,
    entry_label: Option<&str>,
) -> Vec<(String, String)> {
    let several = rows.len() > 1;
    let mut used: HashSet<String> = rows.iter().filter_map(|(_, l)| l.clone()).collect();
    rows.into_iter()
        .enumerate()
        .map(|(index, (raw, own))| {
            if let Some(own) = own {
                return (raw, own);
            }
            let first = match entry_label {
                Some(l) if several => format!("{l}: {raw}"),
                Some(l) => l.to_owned(),
                None => format!("Prompt {} - {raw}", index + 1),
            };
            let mut label = first.clone();
            let mut suffix = 1;
            while used.contains(&label) {
                label = if suffix > 1 {
                    format!("{first} (row {}.{suffix})", index + 1)
                } else {
                    format!("{first} (row {})", index + 1)
                };
                suffix += 1;
            }
            used.insert(label.clone());
            (raw, label)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::prompts;

    fn texts(found: &[(String, String)]) -> Vec<(&str, &str)> {
        found
            .iter()
            .map(|(r, l)| (r.as_str(), l.as_str()))
            .collect()
    }

    #[test]
    fn tables_lines_and_labels_follow_promptfoo() {
        let table = "\u{feff}prompt,label\n  Tell me about {{topic}} ,short\n\nExplain {{topic}},\n,orphan\n";
        assert_eq!(
            texts(&prompts(table, None)),
            [
                ("Tell me about {{topic}}", "short"),
                ("Explain {{topic}}", "Prompt 2 - Explain {{topic}}")
            ]
        );
        assert_eq!(
            texts(&prompts(table, Some("set"))),
            [
                ("Tell me about {{topic}}", "short"),
                ("Explain {{topic}}", "set: Explain {{topic}}")
            ]
        );
        let lines = "prompt\nWrite a poem about {{topic}}\nWrite a haiku about {{topic}}\n";
        assert_eq!(
            texts(&prompts(lines, None)),
            [
                (
                    "Write a poem about {{topic}}",
                    "Prompt 1 - Write a poem about {{topic}}"
                ),
                (
                    "Write a haiku about {{topic}}",
                    "Prompt 2 - Write a haiku about {{topic}}"
                )
            ]
        );
        // One row takes the entry's label as it is; a taken label gets the row number.
        assert_eq!(
            texts(&prompts("Only {{x}}", Some("one"))),
            [("Only {{x}}", "one")]
        );
        let clash = "prompt,label\nA,A-label\nB,\n";
        let found = prompts(clash, Some("A-label"));
        assert_eq!(found[1].1, "A-label: B");
        let same = prompts("prompt,label\nX,\nX,\n", Some("s"));
        assert_eq!(texts(&same), [("X", "s: X"), ("X", "s: X (row 2)")]);
    }

    #[test]
    fn a_ragged_table_falls_back_to_lines() {
        let ragged = "prompt,label\nA, b, c\n";
        assert_eq!(
            texts(&prompts(ragged, None)),
            [
                ("prompt,label", "Prompt 1 - prompt,label"),
                ("A, b, c", "Prompt 2 - A, b, c")
            ]
        );
    }
}
