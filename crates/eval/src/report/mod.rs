//! Reports of a run, one module per job. `json` writes promptfoo's result shape, so
//! tools built for promptfoo output (and `compare-results.py`) read ours; it can be
//! written row by row during the run. The others are written once, after the run, from
//! a [`Context`]: `junit` (CI test reports), `csv` (a spreadsheet, one line per test),
//! `markdown` (a PR comment) and `html` (one self-contained page). `baseline` compares
//! a run with a previous results file.

pub mod baseline;
mod csv;
pub mod describe;
mod html;
pub mod json;
mod junit;
mod markdown;
mod summary;

pub use summary::{PromptSummary, Summary};

use crate::provider::Provider;
use crate::runner::{Row, RunResult};
use crate::suite::{Suite, TestStep};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

/// A report format, chosen by the file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Json,
    Junit,
    Csv,
    Markdown,
    Html,
}

/// The extensions `-o` accepts, for messages.
pub const EXTENSIONS: &str = ".json, .junit.xml or .xml, .csv, .md, .html";

/// An output file whose extension names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: unsupported output format; use a file ending in {EXTENSIONS}")]
pub struct UnknownKind {
    pub path: String,
}

impl Kind {
    /// The format of `path` from its extension (case-insensitive): `.json`,
    /// `.junit.xml` or `.xml`, `.csv`, `.md`, `.html`.
    pub fn from_path(path: &Path) -> Result<Kind, UnknownKind> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let kinds = [
            (".json", Kind::Json),
            (".xml", Kind::Junit),
            (".csv", Kind::Csv),
            (".md", Kind::Markdown),
            (".html", Kind::Html),
        ];
        kinds
            .into_iter()
            .find(|(ext, _)| name.len() > ext.len() && name.ends_with(ext))
            .map(|(_, kind)| kind)
            .ok_or_else(|| UnknownKind {
                path: path.display().to_string(),
            })
    }
}

/// Everything a report is made from.
pub struct Context<'a> {
    pub suite: &'a Suite,
    pub providers: &'a [Provider],
    pub run: &'a RunResult,
    pub summary: &'a Summary,
    /// When the run started, `2026-11-21T14:38:29.620Z`.
    pub started_at: &'a str,
    /// The evaluate options used (promptfoo's `runtimeOptions`), for the JSON report.
    pub runtime: &'a serde_json::Value,
    /// The comparison with `--baseline`, when one was given.
    pub comparison: Option<&'a baseline::Comparison>,
}

impl Context<'_> {
    /// The rows by test, then prompt × provider (read back from the run's store).
    pub fn rows_in_order(&self) -> impl Iterator<Item = io::Result<Row>> + '_ {
        self.run.rows.in_order().map(|r| r.map_err(io::Error::from))
    }

    /// Step `i` of the suite.
    pub fn step(&self, i: usize) -> io::Result<Arc<TestStep>> {
        self.suite.steps.get(i).map_err(io::Error::from)
    }

    /// Each step with its rows by prompt × provider slot (`None` where a row is missing,
    /// as after an interrupted run).
    pub fn rows_by_step(&self) -> impl Iterator<Item = io::Result<StepRows>> + '_ {
        let slots = self.summary.per_prompt.len();
        let mut rows = self.rows_in_order().peekable();
        (0..self.suite.steps.len()).map(move |i| {
            let step = self.step(i)?;
            let mut by_slot: Vec<Option<Row>> = vec![None; slots];
            while rows
                .peek()
                .is_some_and(|r| r.as_ref().map_or(true, |r| r.step == i))
            {
                let row = rows.next().expect("peeked")?;
                if let Some(place) = by_slot.get_mut(row.prompt_idx) {
                    *place = Some(row);
                }
            }
            Ok(StepRows {
                step,
                rows: by_slot,
            })
        })
    }
}

/// A step and its rows, by prompt × provider slot.
pub struct StepRows {
    pub step: Arc<TestStep>,
    pub rows: Vec<Option<Row>>,
}

/// Writes the whole report of format `kind` to `out`.
pub fn write(kind: Kind, out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    match kind {
        Kind::Json => json::write(out, cx),
        Kind::Junit => junit::write(out, cx),
        Kind::Csv => csv::write(out, cx),
        Kind::Markdown => markdown::write(out, cx),
        Kind::Html => html::write(out, cx),
    }
}

// A report file is written in three calls, whatever its format: JSON is filled as rows
// complete (so writing overlaps the wait for providers and a large run is never held
// as one document); the other formats are written whole by `finish`.

/// Starts a report file before the run.
pub fn begin(kind: Kind, out: &mut dyn Write, started_at: &str) -> io::Result<()> {
    match kind {
        Kind::Json => json::begin(out, started_at),
        _ => Ok(()),
    }
}

/// Adds the `index`-th completed row.
pub fn row(
    kind: Kind,
    out: &mut dyn Write,
    suite: &Suite,
    providers: &[Provider],
    row: &Row,
    started_at: &str,
    index: usize,
) -> io::Result<()> {
    match kind {
        Kind::Json => json::row(out, suite, providers, row, started_at, index),
        _ => Ok(()),
    }
}

/// Ends a report file after the run and flushes it.
pub fn finish(kind: Kind, out: &mut dyn Write, cx: &Context) -> io::Result<()> {
    match kind {
        Kind::Json => json::finish(out, cx)?,
        other => write(other, out, cx)?,
    }
    out.flush()
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::Kind;
    use std::path::Path;

    #[test]
    fn formats_follow_the_extension_in_any_case() {
        for (name, kind) in [
            ("out.json", Kind::Json),
            ("dir/OUT.JSON", Kind::Json),
            ("report.junit.xml", Kind::Junit),
            ("report.XML", Kind::Junit),
            ("table.csv", Kind::Csv),
            ("comment.md", Kind::Markdown),
            ("Report.Html", Kind::Html),
        ] {
            assert_eq!(Kind::from_path(Path::new(name)), Ok(kind), "{name}");
        }
        for name in ["out.docx", "out.htm", "json", ".csv", "out.json.bak", "out"] {
            let err = Kind::from_path(Path::new(name)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{name}: unsupported output format; use a file ending in .json, .junit.xml or .xml, .csv, .md, .html"
                )
            );
        }
    }
}
