use crate::Outcome;
use crate::cli::Format;
use crate::output::{self, BOLD, DIM, GREEN, RED};
use crate::project::Project;
use crate::source;
use anstream::println;
use anyhow::Result;
use promptops_core::diff::{self, Verdict};
use promptops_core::prompt::Prompt;
use promptops_core::validate::{self, Rules};

pub fn run(project: &Project, old: &str, new: &str, format: Format) -> Result<Outcome> {
    let rules = Rules::from_config(&project.config);
    let (Some(a), Some(b)) = (load(old, &rules)?, load(new, &rules)?) else {
        return Ok(Outcome::Findings);
    };
    let d = diff::diff(&a, &b, old, new);
    let ok = d.verdict.is_ok();
    match format {
        Format::Json => output::json(&serde_json::json!({
            "old": {"source": old, "id": a.id, "version": d.old_version, "hash": d.old_hash},
            "new": {"source": new, "id": b.id, "version": d.new_version, "hash": d.new_hash},
            "text_diff": d.text_diff,
            "changes": d.changes,
            "verdict": d.verdict,
            "ok": ok,
        })),
        Format::Text => print_text(&a, &b, &d),
    }
    Ok(if ok { Outcome::Ok } else { Outcome::Findings })
}

fn load(spec: &str, rules: &Rules) -> Result<Option<Prompt>> {
    let src = source::read(spec)?;
    let report = validate::check_source(&src.name, None, &src.bytes, rules);
    if let Some(p) = report.valid_prompt() {
        return Ok(Some(p.clone()));
    }
    for d in report.diagnostics.iter().filter(|d| d.is_error()) {
        output::diagnostic(d);
    }
    if report.skipped.is_some() {
        output::warn(format!("{spec}: not a prompt file"));
    }
    anstream::eprintln!("cannot diff {spec}: fix the errors above first");
    Ok(None)
}

fn print_text(a: &Prompt, b: &Prompt, d: &diff::PromptDiff) {
    println!(
        "{BOLD}{}{BOLD:#} {} → {}",
        b.id, d.old_version, d.new_version
    );
    if d.text_diff.is_empty() && d.changes.is_empty() {
        println!("no content changes (hash {})", d.new_hash);
    }
    output::unified_diff(&d.text_diff);
    if !d.changes.is_empty() {
        println!("{BOLD}metadata:{BOLD:#}");
        for c in &d.changes {
            let show = |v: &Option<serde_json::Value>| v.as_ref().map_or(String::new(), compact);
            let line = match (&c.before, &c.after) {
                (None, Some(_)) => format!("  + {}: {}", c.path, show(&c.after)),
                (Some(_), None) => format!("  - {}: {}", c.path, show(&c.before)),
                _ => format!("  ~ {}: {} → {}", c.path, show(&c.before), show(&c.after)),
            };
            println!("{line}  {DIM}({}){DIM:#}", c.impact.as_str());
        }
    }
    let _ = a;
    match &d.verdict {
        Verdict::Unchanged => println!("semver: ok"),
        Verdict::Fits { required } => println!(
            "{GREEN}semver: ok{GREEN:#}: the change needs a {} bump; {} → {} fits",
            required.as_str(),
            d.old_version,
            d.new_version
        ),
        Verdict::TooSmall {
            required,
            suggested,
        } => println!(
            "{RED}semver: bump too small{RED:#}: the change needs a {} bump, so at least {suggested}; got {}",
            required.as_str(),
            d.new_version
        ),
        Verdict::NotBumped {
            required,
            suggested,
        } => println!(
            "{RED}semver: not bumped{RED:#}: the content changed but the version is still {}; the change needs a {} bump, so at least {suggested}",
            d.new_version,
            required.as_str()
        ),
        Verdict::Backwards => println!(
            "{RED}semver: version went backwards{RED:#}: {} → {}",
            d.old_version, d.new_version
        ),
    }
}

fn compact(v: &serde_json::Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(79).collect::<String>())
    } else {
        text
    }
}
