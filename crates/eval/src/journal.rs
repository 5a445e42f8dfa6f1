//! The progress of a run, kept next to its first output file (`out.json.progress`) so
//! that a run stopped by Ctrl-C or a crash continues with `--resume` without redoing
//! the cases that finished. The file is JSON Lines: a header naming the suite it
//! belongs to (a fingerprint of the config file's bytes and the run's shape), then one
//! finished row per line. A line cut short by a crash is dropped when the file is read.
//! A run that finishes removes the file.

use crate::runner::Row;
use crate::spill::Spill;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why the progress file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "{path}: this progress file belongs to another run (the suite, its prompts, providers or number of cases changed since); remove it to start over"
    )]
    OtherRun { path: String },
    #[error("{path}: not a promptops progress file; remove it to start over")]
    NotAJournal { path: String },
    #[error(
        "{path}: nothing to resume: no progress file (a run leaves one when it is interrupted); run without --resume"
    )]
    Missing { path: String },
    #[error("cannot keep the rows read back: {0}")]
    Store(#[from] crate::spill::SpillError),
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Header {
    promptops_eval_progress: u32,
    fingerprint: String,
}

/// The progress file for a run whose first output is `output`.
pub fn path_for(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".progress");
    PathBuf::from(name)
}

/// What identifies a run: the config file's bytes and the run's shape (cases, prompts ×
/// providers, their ids). Resuming a different run would mix its rows into this one.
pub fn fingerprint(config_file: &Path, shape: &str) -> std::io::Result<String> {
    // Hashed as it is read: a suite's file can be tens of MB.
    use std::io::Read;
    let mut file = File::open(config_file)?;
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut chunk = vec![0; 64 * 1024];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => digest.update(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut text: String = digest
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    text.push('/');
    text.push_str(shape);
    Ok(promptops_core::canonical::sha256_hex(text))
}

/// The rows a previous run finished, read from its progress file (in a spill, so a
/// long run's rows are not all held in memory).
pub struct Finished {
    pub rows: Spill,
    /// Bytes of the file that hold whole lines: anything after is cut off before
    /// appending.
    good_len: u64,
}

/// Reads the progress file at `path`, checking it belongs to the run `fingerprint`.
pub fn read(path: &Path, fingerprint: &str) -> Result<Finished, JournalError> {
    let shown = path.display().to_string();
    let io = |source| JournalError::Io {
        path: shown.clone(),
        source,
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(JournalError::Missing { path: shown });
        }
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut good_len = reader.read_until(b'\n', &mut line).map_err(io)? as u64;
    let header: Header = serde_json::from_slice(&line)
        .ok()
        .filter(|_| line.ends_with(b"\n"))
        .ok_or_else(|| JournalError::NotAJournal {
            path: shown.clone(),
        })?;
    if header.fingerprint != fingerprint {
        return Err(JournalError::OtherRun { path: shown });
    }
    let mut rows = Spill::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        // A last line without its newline was cut short by the crash: it is redone.
        if n == 0 || !line.ends_with(b"\n") {
            break;
        }
        let Ok(row) = serde_json::from_slice::<Row>(&line) else {
            break;
        };
        rows.push(&row)?;
        good_len += n as u64;
    }
    Ok(Finished { rows, good_len })
}

/// Appends finished rows to a progress file.
pub struct Journal {
    path: PathBuf,
    out: BufWriter<File>,
    flushed: Instant,
}

/// How long finished rows may wait in the buffer: what a crash can cost to redo.
const FLUSH_EVERY: Duration = Duration::from_millis(250);

impl Journal {
    /// Starts a new progress file for the run `fingerprint` (replacing any old one).
    pub fn create(path: &Path, fingerprint: &str) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = File::create(path).map_err(io)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let header = Header {
            promptops_eval_progress: 1,
            fingerprint: fingerprint.to_owned(),
        };
        serde_json::to_writer(&mut out, &header).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        Ok(Journal {
            path: path.to_owned(),
            out,
            flushed: Instant::now(),
        })
    }

    /// Continues the progress file read as `finished` (a cut-off last line is removed).
    pub fn resume(path: &Path, finished: &Finished) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = OpenOptions::new().write(true).open(path).map_err(io)?;
        file.set_len(finished.good_len).map_err(io)?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        use std::io::Seek;
        out.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        Ok(Journal {
            path: path.to_owned(),
            out,
            flushed: Instant::now(),
        })
    }

    /// Records a finished row (buffered for at most [`FLUSH_EVERY`]: a crash loses the
    /// last few rows at most, which are then redone).
    pub fn add(&mut self, row: &Row) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, row)?;
        self.out.write_all(b"\n")?;
        if self.flushed.elapsed() >= FLUSH_EVERY {
            self.out.flush()?;
            self.flushed = Instant::now();
        }
        Ok(())
    }

    /// Writes what is buffered, for an interrupted run to continue from.
    pub fn keep(mut self) -> std::io::Result<PathBuf> {
        self.out.flush()?;
        Ok(self.path)
    }

    /// The run finished: the progress file is no longer needed.
    pub fn finish(self) -> std::io::Result<()> {
        drop(self.out);
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Outcome;

    fn row(step: usize, prompt_idx: usize) -> Row {
        Row {
            step,
            provider: 0,
            prompt: prompt_idx,
            prompt_idx,
            rendered_prompt: format!("prompt {step}"),
            response: None,
            latency_ms: 7,
            grading: None,
            error: Some("boom".into()),
            outcome: Outcome::Error,
            failure_reason: 2,
            score: 0.0,
            step_data: None,
            vars: None,
        }
    }

    #[test]
    fn rows_written_are_read_back_and_a_cut_line_is_dropped_then_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("out.json"));
        let mut journal = Journal::create(&path, "fp").unwrap();
        for step in 0..3 {
            journal.add(&row(step, 1)).unwrap();
        }
        journal.keep().unwrap();
        // A crash in the middle of the fourth line.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"step":3,"prov"#).unwrap();
        drop(file);

        let finished = read(&path, "fp").unwrap();
        let steps: Vec<usize> = finished
            .rows
            .iter::<Row>()
            .map(|r| r.unwrap().step)
            .collect();
        assert_eq!(steps, [0, 1, 2]);

        let mut journal = Journal::resume(&path, &finished).unwrap();
        journal.add(&row(3, 1)).unwrap();
        journal.keep().unwrap();
        let again = read(&path, "fp").unwrap();
        assert_eq!(again.rows.count(), 4, "the cut line was replaced");
    }

    #[test]
    fn another_runs_file_a_foreign_file_and_no_file_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json.progress");
        assert!(matches!(
            read(&path, "fp"),
            Err(JournalError::Missing { .. })
        ));
        Journal::create(&path, "fp").unwrap().keep().unwrap();
        let e = read(&path, "other").err().unwrap();
        assert!(matches!(e, JournalError::OtherRun { .. }), "{e}");
        std::fs::write(&path, "{\"evalId\": 1}\n").unwrap();
        assert!(matches!(
            read(&path, "fp"),
            Err(JournalError::NotAJournal { .. })
        ));
    }

    #[test]
    fn a_finished_run_removes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json.progress");
        let mut journal = Journal::create(&path, "fp").unwrap();
        journal.add(&row(0, 0)).unwrap();
        journal.finish().unwrap();
        assert!(!path.exists());
    }
}
