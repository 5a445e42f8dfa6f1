//! The `/v1` API, one module per resource.

pub mod audit;
pub mod evals;
pub mod health;
pub mod keys;
pub mod labels;
pub mod policies;
pub mod projects;
pub mod prompts;
pub mod requests;
pub mod session;
pub mod users;

/// Path parameters shared by the prompt routes.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PromptPath {
    /// Project name.
    pub project: String,
    /// Prompt id (`module.name`).
    pub id: String,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VersionPath {
    pub project: String,
    pub id: String,
    /// Semver version (`1.2.0`; a bare `2` means `2.0.0`).
    #[param(
        pattern = "^(0|[1-9][0-9]{0,15})(\\.(0|[1-9][0-9]{0,15})\\.(0|[1-9][0-9]{0,15})(-(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\\.(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?)?$"
    )]
    pub version: String,
}
