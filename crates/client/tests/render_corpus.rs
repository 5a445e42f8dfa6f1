//! One rendering truth: every case of `sdk/fixtures/render.json` (a prompt file, the
//! variables passed, the text or messages expected, or a piece of the error) rendered
//! through the SDK's own path — the prompt as the registry would serve it
//! (`Prompt::from_source`, checked by `Prompt::from_resolved`), then `Prompt::render`.
//! The Python SDK's tests run the same file through the same functions.

use promptops_client::sdk::{Prompt, Rendered, SdkError};
use serde_json::{Value, json};

const CORPUS: &str = include_str!("../../../sdk/fixtures/render.json");

/// What the registry would serve for `source` (it must be a valid prompt):
/// `Prompt::from_source` reads it as the registry does and checks it through
/// `Prompt::from_resolved`, the path every served prompt takes.
fn served(name: &str, source: &str) -> Prompt {
    Prompt::from_source("case.yaml", source.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_case_of_the_shared_corpus_renders_as_expected() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let cases = corpus["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "the corpus lost cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let prompt = served(name, case["prompt"].as_str().unwrap());
        let got = prompt.render(&case["vars"]);
        let expect = &case["expect"];
        let verdict = match (&got, expect.get("error")) {
            (Err(e), Some(want)) => {
                let want = want.as_str().unwrap();
                (e.to_string().contains(want))
                    .then_some(())
                    .ok_or(format!("the error `{e}` does not contain `{want}`"))
            }
            (Ok(r), Some(want)) => Err(format!("rendered {r:?}, expected an error with {want}")),
            (Err(e), None) => Err(format!("failed: {e}")),
            (Ok(Rendered::Text(t)), None) => (Some(&json!(t)) == expect.get("text"))
                .then_some(())
                .ok_or(format!("rendered text {t:?}, expected {expect}")),
            (Ok(Rendered::Messages(ms)), None) => {
                let ms = serde_json::to_value(ms).unwrap();
                (Some(&ms) == expect.get("messages"))
                    .then_some(())
                    .ok_or(format!("rendered messages {ms}, expected {expect}"))
            }
        };
        if let Err(why) = verdict {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_invalid_prompt_file_is_refused_with_every_error_and_its_position() {
    match Prompt::from_source("prompts/x.yaml", b"id: x\nversion: one\n") {
        Err(SdkError::InvalidPrompt { id, detail }) => {
            assert_eq!(id, "prompts/x.yaml");
            assert!(detail.contains("prompts/x.yaml:2:"), "{detail}");
        }
        other => panic!("an invalid file: {other:?}"),
    }
    let p = Prompt::from_source("case.yaml", CORPUS_FIRST.as_bytes());
    assert_eq!(
        p.map(|p| p.environment().to_owned()).ok().as_deref(),
        Some("local")
    );
}

/// The corpus's first prompt (a valid text prompt).
const CORPUS_FIRST: &str = "id: corpus.case\nversion: 1.0.0\nowner: sdk\ndescription: A rendering case.\nmodel: openai:gpt-4o-mini\ntemplate: \"Hello {{ name }}!\"\nvariables:\n  name: string\n";
