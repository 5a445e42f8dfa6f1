//! Finding the project's prompt files by id: for `render`, and for `promptops://<id>`
//! prompts and prompt-centric suites in `eval`.

use crate::project::Project;
use anyhow::{Result, bail};
use promptops_core::diagnostic::did_you_mean;
use promptops_core::discover;
use promptops_core::prompt::id;
use promptops_core::validate::{self, FileReport, Rules};
use promptops_eval::suite::{PromptLibrary, RegistryPrompt};
use std::path::Path;
use std::sync::Arc;

/// The prompt file for `spec`: a path, or an id looked up under the prompts folder
/// (`root` overrides where ids are computed from).
pub fn locate(project: &Project, spec: &str, root: Option<&Path>) -> Result<FileReport> {
    let rules = Rules::from_config(&project.config);
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(validate::check_file(path, root, &rules));
    }
    let dir = root
        .map(Path::to_path_buf)
        .unwrap_or_else(|| project.prompts_dir());
    if !dir.is_dir() {
        bail!(
            "`{spec}` is neither a file nor a prompt id: there is no prompts folder at {}",
            dir.display()
        );
    }
    let files = discover::prompt_files(std::slice::from_ref(&dir), &project.exclude_globs()?)?;
    if let Some(file) = files
        .iter()
        .find(|f| id::id_from_path(f, root).is_some_and(|i| id::same_id(&i, spec)))
    {
        return Ok(validate::check_file(file, root, &rules));
    }
    // The path did not give it; an id declared inside a file may still match.
    let reports = validate::check_files(&files, root, &rules);
    let known: Vec<String> = reports
        .iter()
        .filter_map(|r| r.prompt.as_ref().map(|p| p.id.clone()))
        .collect();
    if let Some(found) = reports
        .into_iter()
        .find(|r| r.prompt.as_ref().is_some_and(|p| id::same_id(&p.id, spec)))
    {
        return Ok(found);
    }
    match did_you_mean(spec, known.iter().map(String::as_str)) {
        Some(near) => bail!(
            "no prompt `{spec}` in {}; did you mean `{near}`?",
            dir.display()
        ),
        None => bail!(
            "no prompt `{spec}` in {} (`promptops list` shows the ids)",
            dir.display()
        ),
    }
}

/// The project's prompts folder as a library for eval suites. A prompt file with
/// validation errors is refused (with its first error), so a broken prompt never runs.
pub struct ProjectLibrary<'p> {
    pub project: &'p Project,
}

impl PromptLibrary for ProjectLibrary<'_> {
    fn prompt(&self, spec: &str) -> Result<Arc<RegistryPrompt>, String> {
        let report = locate(self.project, spec, self.project.id_root(None).as_deref())
            .map_err(|e| format!("{e:#}"))?;
        if let Some(d) = report.diagnostics.iter().find(|d| d.is_error()) {
            return Err(format!(
                "{}:{}:{}: {} (run `promptops validate {}`)",
                d.path, d.line, d.column, d.message, report.path
            ));
        }
        let prompt = report
            .prompt
            .ok_or_else(|| format!("{} is not a prompt file", report.path))?;
        Ok(Arc::new(RegistryPrompt {
            prompt,
            used_variables: report.used_variables,
        }))
    }
}
