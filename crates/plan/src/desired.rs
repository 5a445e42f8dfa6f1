//! The desired state as the repository declares it: valid prompt files, policy files,
//! and the pins of `promptops.toml`.

use promptops_core::canonical::content_hash;
use promptops_core::config::Config;
use promptops_core::diagnostic::Diagnostic;
use promptops_core::policy;
use promptops_core::validate::{self, Rules};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A prompt file that validates.
#[derive(Debug, Clone)]
pub struct PromptFile {
    pub path: String,
    pub id: String,
    pub version: String,
    pub content_hash: String,
    pub source: String,
}

/// A policy file that parses, for the environment it names (or its file name says).
#[derive(Debug, Clone)]
pub struct PolicyFile {
    pub path: String,
    pub environment: String,
    pub source: String,
}

/// What the registry should hold.
#[derive(Debug, Clone, Default)]
pub struct Desired {
    pub prompts: Vec<PromptFile>,
    pub policies: Vec<PolicyFile>,
    /// Environment → prompt id → version.
    pub pins: BTreeMap<String, BTreeMap<String, String>>,
    /// Files that cannot be part of a desired state, each with why.
    pub errors: Vec<String>,
    /// The findings behind those errors (and warnings), for printing.
    pub findings: Vec<Diagnostic>,
}

impl Desired {
    /// Reads `prompt_files` (ids from `root`), `policy_files` and `config`'s pins.
    pub fn read(
        config: &Config,
        prompt_files: &[PathBuf],
        root: Option<&Path>,
        policy_files: &[PathBuf],
    ) -> Desired {
        let mut desired = Desired {
            pins: config
                .environments
                .iter()
                .map(|(env, e)| (env.clone(), e.pins.clone()))
                .collect(),
            ..Desired::default()
        };
        let rules = Rules::from_config(config);
        let reports = validate::check_files(prompt_files, root, &rules);
        for (report, file) in reports.iter().zip(prompt_files) {
            if report.skipped.is_some() {
                continue;
            }
            let Some(prompt) = report.valid_prompt() else {
                desired.errors.push(format!(
                    "{}: does not validate (`promptops validate`)",
                    report.path
                ));
                continue;
            };
            match std::fs::read_to_string(file) {
                Ok(source) => desired.prompts.push(PromptFile {
                    path: report.path.clone(),
                    id: prompt.id.clone(),
                    version: prompt.version.to_string(),
                    content_hash: content_hash(prompt).to_string(),
                    source,
                }),
                Err(e) => desired
                    .errors
                    .push(format!("{}: cannot read: {e}", file.display())),
            }
        }
        for path in policy_files {
            desired.read_policy(path);
        }
        desired
    }

    fn read_policy(&mut self, path: &Path) {
        let shown = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                self.errors.push(format!("{shown}: cannot read: {e}"));
                return;
            }
        };
        match policy::parse(&shown, &source) {
            Ok((parsed, warnings)) => {
                self.findings.extend(warnings);
                let environment = parsed
                    .environment
                    .clone()
                    .or_else(|| path.file_stem().and_then(|s| s.to_str()).map(str::to_owned));
                match environment {
                    Some(environment) => self.policies.push(PolicyFile {
                        path: shown,
                        environment,
                        source,
                    }),
                    None => self.errors.push(format!(
                        "{shown}: cannot tell the environment from the file name"
                    )),
                }
            }
            Err(findings) => {
                self.findings.extend(findings);
                self.errors.push(format!(
                    "{shown}: the policy does not parse (`promptops policy check`)"
                ));
            }
        }
    }
}
