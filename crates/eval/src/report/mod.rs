//! Reports of a run. `json` writes promptfoo's result shape, so tools built for
//! promptfoo output (and `compare-results.py`) read ours.

pub mod json;
mod summary;

pub use summary::{PromptSummary, Summary, summarize};
