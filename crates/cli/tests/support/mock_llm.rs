//! The bench mock LLM (`shared/bench/mock-llm.js`), started on a free port for a test.
//! Its answers: the text after `ECHO:` in the last user message, verbatim; a grader
//! verdict for `GRADE-PASS` / `GRADE-FAIL`; else `LABEL-<n>` (see the file's header).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running mock; stopped when dropped.
pub struct Mock(Child);

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The repository (the folder holding `crates/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The bench mock, started on a free port, or why it cannot be.
pub fn start_mock(dir: &Path) -> Result<(Mock, u16), String> {
    let mock = repo_root().join("../shared/bench/mock-llm.js");
    if !mock.is_file() {
        return Err(format!("{} not found", mock.display()));
    }
    let port_file = dir.join("port");
    let child = Command::new("node")
        .arg(&mock)
        .args(["--port", "0", "--delay-ms", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run node: {e}"))?;
    let child = Mock(child);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(port) = text.trim().parse()
        {
            return Ok((child, port));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the mock did not start within 20 s".into())
}

/// The mock, or `None` (the test is skipped) when Node.js or the mock is missing and
/// `PROMPTOPS_REQUIRE_SERVICES` is not set.
pub fn mock_or_skip(dir: &Path) -> Option<(Mock, u16)> {
    match start_mock(dir) {
        Ok(m) => Some(m),
        Err(why) if std::env::var_os("PROMPTOPS_REQUIRE_SERVICES").is_none() => {
            eprintln!("skipped: the bench mock LLM is unavailable ({why})");
            None
        }
        Err(why) => panic!("the bench mock LLM is required here: {why}"),
    }
}
