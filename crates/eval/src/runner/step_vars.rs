//! The vars a row runs with when the suite changes them while it runs, as promptfoo
//! 0.123.1 does (`docs/research/promptfoo-compat.md` §3.6):
//! - `options.transformVars` (the test's, else `defaultTest`'s) maps the test's vars:
//!   inline JavaScript with `vars` and `context` (`{prompt: {}, uuid}`) in scope, or a
//!   `.js`/`.py` file's function; the object it returns is merged over the vars;
//! - outputs that earlier tests kept with `options.storeOutputAs` are set over them
//!   (such suites run serially, so "earlier" is the config's order).
//!
//! The report shows the vars after `transformVars`, without the stored outputs, as
//! promptfoo's does.

use crate::assertions::script::{Input, run_transform};
use crate::suite::TestStep;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Outputs kept by `storeOutputAs`, by var name, shared by the run's workers.
pub(super) type Registers = Mutex<Map<String, Json>>;

/// The step as the row runs it (the same `Arc` when nothing changes its vars), and the
/// vars its report shows when `transformVars` changed them.
pub(super) async fn prepared(
    test: Arc<TestStep>,
    registers: &Registers,
    base_dir: &Path,
) -> Result<(Arc<TestStep>, Option<Map<String, Json>>), String> {
    let transform = test
        .test
        .options
        .get("transformVars")
        .and_then(Json::as_str)
        .filter(|code| !code.trim().is_empty());
    let stored = registers.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if transform.is_none() && stored.is_empty() {
        return Ok((test, None));
    }
    let mut vars = test.vars.clone();
    if let Some(code) = transform {
        let context = serde_json::json!({"prompt": {}, "uuid": random_uuid()});
        let returned = run_transform(
            code,
            Input::Vars,
            &Json::Object(vars.clone()),
            &context,
            base_dir,
        )
        .await
        .map_err(|e| format!("transformVars failed: {e}"))?;
        match returned {
            Json::Object(changed) => vars.extend(changed),
            other => {
                return Err(format!(
                    "transformVars must return an object of vars (e.g. `return {{ ...vars, name: vars.name.trim() }}`), got {}",
                    kind(&other)
                ));
            }
        }
    }
    let reported = transform.is_some().then(|| vars.clone());
    vars.extend(stored);
    // A file var whose value changed is no longer the file loaded for it.
    let loaded = test
        .loaded
        .iter()
        .filter(|(name, _)| vars.get(*name) == test.vars.get(*name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let step = TestStep {
        test_idx: test.test_idx,
        vars,
        loaded,
        test: test.test.clone(),
    };
    Ok((Arc::new(step), reported))
}

/// Keeps a row's output as a var for later tests when its test says `storeOutputAs`
/// (only an output JavaScript finds truthy, as promptfoo's test does).
pub(super) fn store_output(test: &TestStep, output: &Json, registers: &Registers) {
    let Some(name) = test
        .test
        .options
        .get("storeOutputAs")
        .and_then(Json::as_str)
    else {
        return;
    };
    if crate::js_truthy(output) {
        registers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), output.clone());
    }
}

/// A version-4 UUID, as promptfoo gives each transform call (`crypto.randomUUID()`).
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    // Without randomness the id is only less unique; nothing depends on it.
    let _ = getrandom::fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "nothing",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}
