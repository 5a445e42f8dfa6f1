//! `promptops eval` with code in the suite, as promptfoo 0.123.1 runs it: prompt functions
//! (`.js`, `.mjs`, `.py`, `.ts`) whose result is what the model gets, JavaScript
//! assertion files that `require` local modules and Node.js built-ins or are ES
//! modules, named scores and nested results returned by scripts, and model-graded
//! assertions whose rubric or grading prompt comes from a file.

#[path = "support/mock_llm.rs"]
mod mock_llm;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use tempfile::TempDir;

fn promptops(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PROMPTOPS_CACHE", "0")
        .env_remove("PROMPTOPS_FAILED_TEST_EXIT_CODE")
        .env_remove("PROMPTOPS_JS_RUNTIME")
        .output()
        .expect("run promptops")
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs the suite in `dir` with `-o out.json` and returns the report.
fn eval(dir: &Path) -> (Output, Value) {
    let o = promptops(
        dir,
        &["eval", "-c", "promptfooconfig.yaml", "-o", "out.json"],
    );
    let report = std::fs::read_to_string(dir.join("out.json"))
        .unwrap_or_else(|e| panic!("no report ({e}): {}", text(&o)));
    (o, serde_json::from_str(&report).unwrap())
}

/// The report's rows in prompt order (rows are written as they finish).
fn rows_by_prompt(report: &Value) -> Vec<Value> {
    let mut rows = report["results"]["results"].as_array().unwrap().clone();
    rows.sort_by_key(|r| (r["testIdx"].as_u64(), r["promptIdx"].as_u64()));
    rows
}

fn has_node() -> bool {
    Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The major and minor version of the `node` promptops runs (`PROMPTOPS_NODE`, else
/// `node`), if it runs.
fn node_version() -> Option<(u32, u32)> {
    let node = std::env::var("PROMPTOPS_NODE").unwrap_or_else(|_| "node".into());
    let out = Command::new(node).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().trim_start_matches('v').split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[test]
fn prompt_functions_results_are_what_the_model_gets() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some((_mock, port)) = mock_llm::mock_or_skip(d) else {
        return;
    };
    // The mock answers with the text after "ECHO:" in the last user message, so each
    // answer shows what the function made reach the model.
    write(
        d,
        "prompt.js",
        "module.exports = ({ vars, provider }) => `ECHO: js ${vars.topic} {{ topic }} ${provider.id}`;\n",
    );
    write(
        d,
        "prompts/chat.mjs",
        "export function chat({ vars }) {\n  return [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: `ECHO: mjs ${vars.topic.toUpperCase()}` }];\n}\n",
    );
    write(
        d,
        "prompt.py",
        "import json, sys\n\ndef make_prompt(context):\n    return 'ECHO: py ' + context['vars']['topic'] + ' ' + context['provider']['label']\n\nif __name__ == '__main__':\n    context = json.loads(sys.argv[1])\n    print('ECHO: legacy ' + context['vars']['topic'])\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        &format!(
            "prompts:\n  - file://prompt.js\n  - file://prompts/chat.mjs:chat\n  - file://prompt.py:make_prompt\n  - file://prompt.py\n\
             providers:\n  - id: openai:chat:mock-model\n    label: mock\n    config: {{apiBaseUrl: 'http://127.0.0.1:{port}/v1', apiKey: sk-test}}\n\
             tests:\n  - vars: {{topic: owls}}\n"
        ),
    );
    let (o, report) = eval(d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = rows_by_prompt(&report);
    let answers: Vec<&str> = rows
        .iter()
        .map(|r| r["response"]["output"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        answers,
        [
            " js owls owls openai:chat:mock-model",
            " mjs OWLS",
            " py owls mock",
            " legacy owls"
        ],
        "{}",
        text(&o)
    );
    // The function saw the provider as the row reports it.
    assert_eq!(rows[0]["provider"]["id"], "openai:chat:mock-model");
    // What the provider got is the row's prompt: the chat, rendered and re-serialised.
    let chat: Value = serde_json::from_str(rows[1]["prompt"]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(chat[0]["content"], "Be brief.");
    // Labels as promptfoo makes them; the reported prompt is the file.
    let label = |i: usize| rows[i]["prompt"]["label"].as_str().unwrap().to_owned();
    assert!(label(0).ends_with("prompt.js"), "{}", label(0));
    assert!(label(1).ends_with("prompts/chat.mjs:chat"), "{}", label(1));
    assert!(label(2).ends_with("prompt.py:make_prompt"), "{}", label(2));
    assert!(label(3).contains("prompt.py: import json"), "{}", label(3));
    let prompts = report["results"]["prompts"].as_array().unwrap();
    assert!(
        prompts[0]["raw"]
            .as_str()
            .unwrap()
            .contains("module.exports")
    );
}

#[test]
fn prompt_function_config_reaches_the_call_and_bad_results_are_errors() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // The exec provider prints the prompt and the temperature it was called with.
    write(
        d,
        "show.py",
        "import json, sys\nprint(sys.argv[1] + ' t=' + str(json.loads(sys.argv[2])['config'].get('temperature')))\n",
    );
    write(
        d,
        "prompt.js",
        "module.exports.configured = ({ vars, config }) => ({ prompt: 'Hi {{name}} ' + config.tone, config: { temperature: 0.3 } });\n\
         module.exports.number = () => 42;\n\
         module.exports.throws = () => { throw new Error('no prompt today'); };\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        "prompts:\n  - {raw: 'file://prompt.js:configured', label: configured, config: {tone: dry}}\n  - file://prompt.js:number\n  - file://prompt.js:throws\n  - file://prompt.js:missing\n\
         providers: ['exec:python3 show.py']\ntests:\n  - vars: {name: Ada}\n",
    );
    let (o, report) = eval(d);
    assert_eq!(o.status.code(), Some(100), "{}", text(&o));
    let rows = rows_by_prompt(&report);
    assert_eq!(
        rows[0]["response"]["output"], "Hi Ada dry t=0.3",
        "the function's config is merged into the call: {}",
        rows[0]
    );
    let error = |i: usize| rows[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        error(1).contains("Prompt function must return a string or object, got number"),
        "{}",
        error(1)
    );
    assert!(error(2).contains("no prompt today"), "{}", error(2));
    assert!(
        error(3).contains("prompt.js:missing") && error(3).contains("named missing"),
        "{}",
        error(3)
    );
    assert!(rows[1..].iter().all(|r| r["failureReason"] == 2));
}

#[test]
fn typescript_prompts_run_under_node_or_say_what_is_missing() {
    if !has_node() {
        eprintln!("skipped: node is not available");
        return;
    }
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(
        d,
        "prompt.ts",
        "interface Context { vars: { name: string } }\nexport default function (context: Context): string {\n  return `Hello ${context.vars.name}`;\n}\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        "prompts: [file://prompt.ts]\nproviders: [echo]\ntests:\n  - vars: {name: Ada}\n",
    );
    let (o, report) = eval(d);
    let row = &report["results"]["results"][0];
    if node_version().is_some_and(|v| v >= (22, 6)) {
        assert_eq!(row["response"]["output"], "Hello Ada", "{}", text(&o));
    } else {
        let error = row["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("prompt.ts") && error.contains("Node.js 22.6 or later"),
            "the error names the file, the runtime and the fix: {error}"
        );
    }
}

#[test]
fn javascript_assertion_files_require_modules_builtins_and_esm() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    // Local CommonJS modules: the embedded engine, with require and JSON.
    write(
        d,
        "checks/words.js",
        "const words = require('./lib/count');\nconst limits = require('../limits.json');\nmodule.exports = (output) => words(output) <= limits.maxWords;\n",
    );
    write(
        d,
        "checks/lib/count.js",
        "module.exports = (text) => text.split(/\\s+/).length;\n",
    );
    write(d, "limits.json", "{\"maxWords\": 4}");
    // Node.js built-ins and an ES module: `node`.
    write(
        d,
        "checks/builtin.js",
        "const fs = require('fs');\nconst path = require('node:path');\nmodule.exports.mentionsFile = (output, context) =>\n  output.includes(fs.readFileSync(path.join(__dirname, '..', 'word.txt'), 'utf8').trim());\n",
    );
    write(d, "word.txt", "Ada\n");
    write(
        d,
        "checks/esm.mjs",
        "import { basename } from 'node:path';\nexport default async function (output, context) {\n  return { pass: output.startsWith('Hello'), score: 0.75, reason: `checked by ${basename(import.meta.url)}` };\n}\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        "prompts: ['Hello {{name}}, nice to meet you']\nproviders: [echo]\n\
         tests:\n  - vars: {name: Ada}\n    assert:\n\
         \x20     - {type: javascript, value: file://checks/words.js}\n\
         \x20     - {type: javascript, value: 'file://checks/builtin.js:mentionsFile'}\n\
         \x20     - {type: javascript, value: file://checks/esm.mjs}\n",
    );
    if !has_node() {
        eprintln!("skipped: node is not available");
        return;
    }
    let (o, report) = eval(d);
    let row = &report["results"]["results"][0];
    let components = row["gradingResult"]["componentResults"].as_array().unwrap();
    let verdicts: Vec<(bool, &str)> = components
        .iter()
        .map(|c| (c["pass"].as_bool().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (
                false,
                "Custom function returned false\nfile://checks/words.js"
            ),
            (true, "Assertion passed"),
            (true, "checked by esm.mjs"),
        ],
        "{}",
        text(&o)
    );
}

#[test]
fn named_scores_and_nested_results_from_scripts_are_kept_and_reported() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(
        d,
        "grade.js",
        "module.exports = (output) => ({\n  pass: true, score: 0.8, reason: 'graded',\n  namedScores: { clarity: 0.5, brevity: 1 },\n  componentResults: [\n    { pass: true, score: 1, reason: 'short enough' },\n    { pass: false, score: 0, reason: 'unclear', assertion: { type: 'clarity', metric: 'clarity' } },\n  ],\n});\n",
    );
    write(
        d,
        "grade.py",
        "def get_assert(output, context):\n    return {'pass_': True, 'score': 1.0, 'reason': 'py', 'named_scores': {'clarity': 1.0}}\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        "prompts: ['Hello {{name}}']\nproviders: [echo]\n\
         tests:\n  - vars: {name: Ada}\n    assert:\n\
         \x20     - {type: javascript, value: file://grade.js, metric: quality}\n\
         \x20     - {type: python, value: file://grade.py}\n\
         \x20     - {type: contains, value: Ada, metric: clarity}\n",
    );
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !python {
        eprintln!("skipped: python3 is not available");
        return;
    }
    let (o, report) = eval(d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let row = &report["results"]["results"][0];
    let g = &row["gradingResult"];
    // clarity: 0.5 (the script's, weight 1) + 1.0 (python's) + 1 (contains) over 3.
    let clarity = g["namedScores"]["clarity"].as_f64().unwrap();
    assert!((clarity - 2.5 / 3.0).abs() < 1e-9, "{g}");
    assert_eq!(g["namedScores"]["brevity"], 1);
    assert_eq!(g["namedScores"]["quality"], 0.8);
    assert_eq!(row["namedScores"], g["namedScores"]);
    assert_eq!(g["namedScoreWeights"]["clarity"], 3);
    // The script's nested results follow it, one level flattened, with its assertion
    // unless they bring their own.
    let components = g["componentResults"].as_array().unwrap();
    let reasons: Vec<&str> = components
        .iter()
        .map(|c| c["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "graded",
            "short enough",
            "unclear",
            "py",
            "Assertion passed"
        ]
    );
    assert_eq!(components[1]["assertion"]["value"], "file://grade.js");
    assert_eq!(components[2]["assertion"]["type"], "clarity");
    assert_eq!(
        components[0]["componentResults"].as_array().unwrap().len(),
        2
    );
    // The prompt's metrics: sums of weighted scores, assertion counts, weights.
    let metrics = &report["results"]["prompts"][0]["metrics"];
    assert!((metrics["namedScores"]["clarity"].as_f64().unwrap() - 2.5).abs() < 1e-9);
    assert_eq!(metrics["namedScoresCount"]["clarity"], 2);
    assert_eq!(metrics["namedScoreWeights"]["clarity"], 3);
    assert_eq!(metrics["assertPassCount"], 4);
    assert_eq!(metrics["assertFailCount"], 1);
}

#[test]
fn llm_rubric_values_and_rubric_prompts_come_from_files() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some((_mock, port)) = mock_llm::mock_or_skip(d) else {
        return;
    };
    // The mock grader passes a rubric with GRADE-PASS and fails one with GRADE-FAIL.
    write(d, "pass.txt", "  Says hello. GRADE-PASS\n");
    write(d, "fail.txt", "Says goodbye. GRADE-FAIL\n");
    write(
        d,
        "rubric-prompt.txt",
        "Grade this: {{ output }} against {{ rubric }}. GRADE-PASS",
    );
    write(
        d,
        "rubric.js",
        "module.exports = () => [{ role: 'system', content: 'You grade.' }, { role: 'user', content: 'Output: {{ output }}. GRADE-FAIL' }];\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        &format!(
            "prompts: ['Hello {{{{name}}}}']\nproviders: [echo]\n\
             defaultTest:\n  options:\n    provider: {{id: 'openai:chat:mock-grader', config: {{apiBaseUrl: 'http://127.0.0.1:{port}/v1', apiKey: sk-test}}}}\n\
             tests:\n  - vars: {{name: Ada}}\n    assert:\n\
             \x20     - {{type: llm-rubric, value: file://pass.txt}}\n\
             \x20     - {{type: llm-rubric, value: file://fail.txt}}\n\
             \x20     - {{type: llm-rubric, value: polite, rubricPrompt: file://rubric-prompt.txt}}\n\
             \x20     - {{type: llm-rubric, value: polite, rubricPrompt: file://rubric.js}}\n"
        ),
    );
    let (o, report) = eval(d);
    let row = &report["results"]["results"][0];
    let components = row["gradingResult"]["componentResults"].as_array().unwrap();
    let verdicts: Vec<(bool, &str)> = components
        .iter()
        .map(|c| (c["pass"].as_bool().unwrap(), c["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            (true, "mock grader: meets the rubric"),
            (false, "mock grader: fails the rubric"),
            (true, "mock grader: meets the rubric"),
            (false, "mock grader: fails the rubric"),
        ],
        "a file's rubric (trimmed), a text rubricPrompt file and a JavaScript one are graded: {}",
        text(&o)
    );
}

#[test]
fn vars_computed_by_function_files_reach_the_prompt_and_the_report_keeps_the_path() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some((_mock, port)) = mock_llm::mock_or_skip(d) else {
        return;
    };
    // promptfoo calls `(varName, prompt, vars, provider)` of a JavaScript file and
    // `get_var(var_name, prompt, vars)` of a Python one, and takes `output`.
    write(
        d,
        "vars/topic.js",
        "module.exports = (name, prompt, vars, provider) => ({ output: `${name}=${vars.city.toUpperCase()} via ${provider.id} (${prompt.length})` });\n",
    );
    write(
        d,
        "vars/get.py",
        "def get_var(var_name, prompt, other_vars):\n    return {'output': '  ' + var_name + ' from ' + other_vars['city'] + ' ' + str('{{' in prompt) + '\\n'}\n\n\
         def broken(var_name, prompt, other_vars):\n    return {'error': 'no database'}\n",
    );
    write(
        d,
        "vars/empty.js",
        "module.exports = () => ({ output: '' });\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        &format!(
            "prompts:\n  - 'ECHO:{{{{ topic }}}}|{{{{ note }}}}'\n\
             providers:\n  - id: openai:chat:mock-model\n    config: {{apiBaseUrl: 'http://127.0.0.1:{port}/v1', apiKey: sk-test}}\n\
             tests:\n  - vars: {{city: oslo, topic: file://vars/topic.js, note: file://vars/get.py}}\n\
             \x20 - vars: {{city: rome, topic: x, note: 'file://vars/get.py:broken'}}\n\
             \x20 - vars: {{city: rome, topic: file://vars/empty.js, note: y}}\n"
        ),
    );
    let (o, report) = eval(d);
    let rows = rows_by_prompt(&report);
    assert_eq!(
        rows[0]["response"]["output"],
        "topic=OSLO via openai:chat:mock-model (27)|note from oslo True",
        "{}",
        text(&o)
    );
    assert_eq!(rows[0]["vars"]["topic"], "file://vars/topic.js");
    let error = |i: usize| rows[i]["error"].as_str().unwrap_or_default().to_owned();
    assert!(error(1).contains("no database"), "{}", error(1));
    assert!(error(2).contains("{ output: string }"), "{}", error(2));

    // A function file that does not exist is refused before any call, with the var named.
    write(
        d,
        "promptfooconfig.yaml",
        "prompts: ['{{ topic }}']\nproviders: [echo]\ntests:\n  - vars: {topic: file://vars/typo.py}\n",
    );
    let o = promptops(d, &["eval", "-c", "promptfooconfig.yaml"]);
    assert_ne!(o.status.code(), Some(0));
    let said = text(&o);
    assert!(
        said.contains("vars.topic") && said.contains("does not exist"),
        "{said}"
    );
}

#[test]
fn transform_vars_stored_outputs_given_outputs_and_provider_transforms_run_as_in_promptfoo() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let Some((_mock, port)) = mock_llm::mock_or_skip(d) else {
        return;
    };
    write(
        d,
        "transform.py",
        "def get_transform(output, context):\n    return output.upper() + '!'\n\n\
         def shout_vars(vars, context):\n    return {'topic': vars['topic'].upper()}\n",
    );
    // Outcomes, outputs and reported vars here are promptfoo 0.123.1's for this config.
    write(
        d,
        "promptfooconfig.yaml",
        &format!(
            "prompts: ['ECHO:{{{{ topic }}}}|{{{{ previous }}}}']\n\
             providers:\n  - id: openai:chat:mock-model\n    delay: 1\n    transform: output.trim() + '#'\n    config: {{apiBaseUrl: 'http://127.0.0.1:{port}/v1', apiKey: dummy}}\n\
             defaultTest: {{vars: {{previous: none}}}}\n\
             outputPath: [from-config.json, from-config.csv]\n\
             tests:\n\
             \x20 - vars: {{topic: owls}}\n    options: {{transformVars: '({{ ...vars, topic: vars.topic + \"-x\" }})', storeOutputAs: previous}}\n\
             \x20 - vars: {{topic: cats}}\n\
             \x20 - vars: {{topic: dogs}}\n    providerOutput: given answer\n\
             \x20 - vars: {{topic: bats}}\n    options: {{transform: file://transform.py}}\n\
             \x20 - vars: {{topic: rats}}\n    options: {{transformVars: 'file://transform.py:shout_vars'}}\n\
             \x20 - vars: {{topic: bad}}\n    options: {{transformVars: '\"not an object\"'}}\n"
        ),
    );
    // No `-o`: the config's `outputPath` is written.
    let o = promptops(d, &["eval", "-c", "promptfooconfig.yaml"]);
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("from-config.json"))
            .unwrap_or_else(|e| panic!("no report ({e}): {}", text(&o))),
    )
    .unwrap();
    assert!(d.join("from-config.csv").is_file());
    let rows = rows_by_prompt(&report);
    let seen: Vec<(String, String)> = rows
        .iter()
        .take(5)
        .map(|r| {
            (
                r["vars"]["topic"].as_str().unwrap_or_default().to_owned(),
                r["response"]["output"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let expected = [
        ("owls-x", "owls-x|none#"),
        ("cats", "cats|owls-x|none##"),
        ("dogs", "given answer#"),
        ("bats", "BATS|OWLS-X|NONE##!"),
        ("RATS", "RATS|owls-x|none##"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    assert_eq!(seen, expected, "{}", text(&o));
    // The stored output renders but the report keeps the test's own vars.
    assert_eq!(rows[1]["vars"]["previous"], "none");
    let error = rows[5]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("transformVars must return an object"),
        "{error}"
    );
}

#[test]
fn python_functions_may_be_class_methods_or_coroutines() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    write(
        d,
        "p.py",
        "class Prompt:\n    @staticmethod\n    def prompt(context):\n        return 'hi ' + context['vars']['topic']\n\n\
         async def later(context):\n    return 'async ' + context['vars']['topic']\n",
    );
    write(
        d,
        "promptfooconfig.yaml",
        "prompts: [file://p.py:Prompt.prompt, file://p.py:later]\nproviders: [echo]\ntests: [{vars: {topic: x}}]\n",
    );
    let (o, report) = eval(d);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let rows = rows_by_prompt(&report);
    let outputs: Vec<&str> = rows
        .iter()
        .map(|r| r["response"]["output"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(outputs, ["hi x", "async x"], "{}", text(&o));
}
