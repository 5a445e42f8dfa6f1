use crate::Outcome;
use crate::cli::Format;
use crate::output;
use crate::project::Project;
use anstream::println;
use anyhow::Result;

pub fn show(project: &Project, format: Format) -> Result<Outcome> {
    match format {
        Format::Json => output::json(&project.config.redacted()),
        Format::Text => {
            match &project.config_path {
                Some(path) => println!("# from {} (and PROMPTOPS_* environment)", path.display()),
                None => println!(
                    "# built-in defaults (no promptops.toml found; PROMPTOPS_* environment applied)"
                ),
            }
            print!("{}", project.config.to_toml());
        }
    }
    Ok(Outcome::Ok)
}
