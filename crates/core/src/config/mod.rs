//! `promptops.toml`: the project's settings, in one plain struct.
//!
//! Precedence: built-in defaults → `promptops.toml` → `PROMPTOPS_*` environment →
//! command-line flags (the CLI applies the last).

mod server;

pub use server::{
    DEFAULT_MAX_VERSION_BYTES, LangfuseSettings, LogFormat, LogLevel, ServerConfig, redact_url,
};

use crate::prompt::RiskTier;
use crate::prompt::decode_fields::COMPLIANCE_FIELDS;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const FILE_NAME: &str = "promptops.toml";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub project: ProjectConfig,
    pub validate: ValidateConfig,
    pub compliance: ComplianceConfig,
    pub registry: RegistryConfig,
    /// How `promptops eval` runs (`[eval.matrix]`).
    pub eval: EvalConfig,
    /// How `promptops serve` runs.
    pub server: ServerConfig,
    /// What each environment should serve, for `plan` and `apply`:
    /// `[environments.staging] pins = { "support.reply" = "1.2.0" }`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, EnvironmentConfig>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Prompt id → the version this environment should serve.
    pub pins: BTreeMap<String, String>,
}

/// `[eval]`: settings of `promptops eval`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalConfig {
    /// `promptops eval --matrix`.
    pub matrix: MatrixConfig,
}

/// `[eval.matrix]`: the compatibility matrix's defaults; `--models`, `--works` and
/// `--needs-tuning` override them. The thresholds are checked when a matrix runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatrixConfig {
    /// The models to run (`"openai:gpt-4o-mini"`); default: the suite's providers, the
    /// prompt's model and the models its `model.compatibility` names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// The lowest pass rate judged `works` (default 0.9).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub works: Option<f64>,
    /// The lowest pass rate judged `needs-tuning` (default 0.6); below it, `not-supported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_tuning: Option<f64>,
}

/// Where the registry is, for `push`, `promote`, `eval --publish` and the rest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// The registry's URL (`http://127.0.0.1:8080`); `--registry` and
    /// `PROMPTOPS_REGISTRY` override it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The registry project (default: `[project] name`, else `default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectConfig {
    /// A name for the project (shown in reports; the registry's project later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where prompt files live, relative to `promptops.toml`.
    pub prompts_dir: String,
    /// Where environment policies live (`policies/prod.yaml`), relative to `promptops.toml`.
    pub policies_dir: String,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            name: None,
            prompts_dir: "prompts".into(),
            policies_dir: "policies".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidateConfig {
    /// Glob patterns of files under the prompts folder that are not prompt files
    /// (`**/prompt-card.yml`). A pattern without `/` matches file names.
    pub exclude: Vec<String>,
    /// Treat warnings as failures (same as `--deny-warnings`).
    pub deny_warnings: bool,
    /// The most content (bytes, aliases expanded) one prompt may hold; default
    /// `[server] max_version_bytes` (1 MiB), what the registry accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version_bytes: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// The compliance fields each risk tier must fill in.
    pub required_fields: BTreeMap<RiskTier, Vec<String>>,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        let list = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        ComplianceConfig {
            required_fields: BTreeMap::from([
                (RiskTier::Low, list(&[])),
                (
                    RiskTier::Medium,
                    list(&["accountable_owner", "intended_use"]),
                ),
                (
                    RiskTier::High,
                    list(&[
                        "accountable_owner",
                        "intended_use",
                        "human_oversight",
                        "fairness_assessment",
                    ]),
                ),
            ]),
        }
    }
}

/// A problem in `promptops.toml`, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl Config {
    /// Parses the text of a `promptops.toml`; `path` is only used in errors.
    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            ConfigError {
                path: path.to_owned(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        config.check(text, path)?;
        // Tiers the file does not mention keep their built-in requirements
        // (`medium = []` is how to drop them).
        let mut config = config;
        for (tier, fields) in ComplianceConfig::default().required_fields {
            config
                .compliance
                .required_fields
                .entry(tier)
                .or_insert(fields);
        }
        Ok(config)
    }

    fn check(&self, text: &str, path: &str) -> Result<(), ConfigError> {
        for (tier, fields) in &self.compliance.required_fields {
            for field in fields {
                if !COMPLIANCE_FIELDS.contains(&field.as_str()) {
                    let at = text.find(&format!("\"{field}\"")).unwrap_or(0);
                    let (line, column) = line_col(text, at);
                    return Err(ConfigError {
                        path: path.to_owned(),
                        line,
                        column,
                        message: format!(
                            "`{field}` (required for risk tier {}) is not a compliance field; known fields: {}",
                            tier.as_str(),
                            COMPLIANCE_FIELDS.join(", ")
                        ),
                    });
                }
            }
        }
        for pattern in &self.validate.exclude {
            if let Err(message) = crate::glob::Glob::new(pattern) {
                let at = text.find(pattern.as_str()).unwrap_or(0);
                let (line, column) = line_col(text, at);
                return Err(ConfigError {
                    path: path.to_owned(),
                    line,
                    column,
                    message,
                });
            }
        }
        Ok(())
    }

    /// Whether the registry project is named anywhere (`[registry] project`,
    /// `[project] name`, `PROMPTOPS_REGISTRY_PROJECT`), rather than `default` by default.
    pub fn names_registry_project(&self) -> bool {
        self.registry.project.is_some() || self.project.name.is_some()
    }

    /// The registry project this repository publishes to.
    pub fn registry_project(&self) -> &str {
        self.registry
            .project
            .as_deref()
            .or(self.project.name.as_deref())
            .unwrap_or("default")
    }

    /// Applies `PROMPTOPS_*` variables (`lookup` is `std::env::var` in the binary).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        if let Some(url) = lookup("PROMPTOPS_REGISTRY").filter(|u| !u.is_empty()) {
            self.registry.url = Some(url);
        }
        if let Some(project) = lookup("PROMPTOPS_REGISTRY_PROJECT").filter(|p| !p.is_empty()) {
            self.registry.project = Some(project);
        }
        if let Some(dir) = lookup("PROMPTOPS_PROMPTS_DIR") {
            self.project.prompts_dir = dir;
        }
        if let Some(value) = lookup("PROMPTOPS_DENY_WARNINGS") {
            self.validate.deny_warnings = server::parse_bool("PROMPTOPS_DENY_WARNINGS", &value)?;
        }
        self.server.apply_env(&lookup)
    }

    /// The configuration as `promptops config show` prints it (secrets redacted).
    pub fn redacted(&self) -> Config {
        Config {
            server: self.server.redacted(),
            ..self.clone()
        }
    }

    /// The configuration as TOML, for `promptops config show` (secrets redacted).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.redacted())
            .unwrap_or_else(|e| format!("# cannot print configuration: {e}\n"))
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() as u32 + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_require_four_fields_for_high_risk() {
        let c = Config::default();
        assert_eq!(c.compliance.required_fields[&RiskTier::High].len(), 4);
        assert_eq!(c.project.prompts_dir, "prompts");
    }

    #[test]
    fn parses_overrides() {
        let c = Config::parse(
            "[project]\nname = \"x\"\n[compliance.required_fields]\nlow = [\"intended_use\"]\n[validate]\nexclude = [\"**/card.yml\"]\n",
            "promptops.toml",
        )
        .unwrap();
        assert_eq!(
            c.compliance.required_fields[&RiskTier::Low],
            vec!["intended_use".to_owned()]
        );
        assert_eq!(c.validate.exclude, vec!["**/card.yml".to_owned()]);
    }

    #[test]
    fn parses_the_matrix_settings() {
        let c = Config::parse(
            "[eval.matrix]\nmodels = [\"openai:gpt-4o-mini\", \"echo\"]\nworks = 0.95\nneeds_tuning = 0.5\n",
            "promptops.toml",
        )
        .unwrap();
        assert_eq!(c.eval.matrix.models, ["openai:gpt-4o-mini", "echo"]);
        assert_eq!(
            (c.eval.matrix.works, c.eval.matrix.needs_tuning),
            (Some(0.95), Some(0.5))
        );
        let e = Config::parse("[eval.matrix]\nwork = 0.9\n", "promptops.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1), "{e}");
    }

    #[test]
    fn errors_name_the_place() {
        let e = Config::parse("[project]\nnmae = \"x\"\n", "p.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("nmae"), "{}", e.message);

        let e = Config::parse(
            "[compliance.required_fields]\nhigh = [\"ownr\"]\n",
            "p.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("ownr"));

        let e =
            Config::parse("[compliance.required_fields]\nextreme = []\n", "p.toml").unwrap_err();
        assert!(e.message.contains("extreme"), "{}", e.message);
    }

    #[test]
    fn tiers_not_mentioned_keep_their_defaults() {
        let c = Config::parse(
            "[compliance.required_fields]\nhigh = [\"intended_use\"]\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(c.compliance.required_fields[&RiskTier::Medium].len(), 2);
        assert_eq!(c.compliance.required_fields[&RiskTier::High].len(), 1);
        let e =
            Config::parse("[compliance.required_fields]\nextreme = []\n", "p.toml").unwrap_err();
        assert!(e.message.contains("extreme"), "{}", e.message);
    }

    #[test]
    fn env_overrides() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "PROMPTOPS_DENY_WARNINGS").then(|| "true".to_owned()))
            .unwrap();
        assert!(c.validate.deny_warnings);
        assert!(c.apply_env(|_| Some("maybe".to_owned())).is_err());
    }

    #[test]
    fn prints_as_toml() {
        let text = Config::default().to_toml();
        assert_eq!(Config::parse(&text, "x").unwrap(), Config::default());
    }
}
