//! `plan` and `apply`: the repository as the desired state of the registry
//! ("Terraform for prompts"). The repository declares prompt versions (files),
//! policies (`policies/ENV.yaml`) and what each environment should serve
//! (`[environments.ENV] pins` in promptops.toml). [`make_plan`] compares that with the
//! registry and lists the steps that would make them match, with the gates each label
//! move would meet now; [`apply`] takes the steps in order and stops at the first the
//! registry refuses. Either is safe to run twice: a matched state plans nothing.
//!
//! The CLI reads the repository into a [`Desired`] state and prints; everything else is
//! here.

mod desired;

pub use desired::{Desired, PolicyFile, PromptFile};

use promptops_api::{DEFAULT_ENVIRONMENTS, GateOutcome, PromoteRequest};
use promptops_client::{ClientError, RegistryClient};
use promptops_core::canonical::sha256_hex;
use serde::Serialize;
use serde_json::Value as Json;

/// One step towards the desired state.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Step {
    Publish {
        id: String,
        version: String,
        path: String,
        #[serde(skip)]
        source: String,
    },
    UpdatePolicy {
        environment: String,
        from_revision: Option<u64>,
        path: String,
        #[serde(skip)]
        source: String,
    },
    MoveLabel {
        id: String,
        environment: String,
        from: Option<String>,
        to: String,
        /// The gates as the registry judges them now (`None`: judged once the version
        /// is published).
        gates: Option<Vec<GateOutcome>>,
    },
}

impl Step {
    /// The step in a few words: `publish a.b@1.0.0`, `move a.b in prod → 1.1.0`.
    pub fn describe(&self) -> String {
        match self {
            Step::Publish { id, version, .. } => format!("publish {id}@{version}"),
            Step::UpdatePolicy { environment, .. } => format!("policy {environment}"),
            Step::MoveLabel {
                id,
                environment,
                to,
                ..
            } => format!("move {id} in {environment} → {to}"),
        }
    }

    /// A label move that some gate blocks now.
    pub fn is_blocked(&self) -> bool {
        matches!(self, Step::MoveLabel { gates: Some(g), .. } if g.iter().any(|g| !g.passed))
    }
}

/// What it takes to make the registry match the repository.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// What makes the repository unusable as a desired state (invalid files, a version
    /// number taken by other content, a pin that is not a version).
    pub errors: Vec<String>,
}

/// Talking to the registry failed (unreachable, or an answer that is not the API's).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PlanError(#[from] ClientError);

/// A 404 as "nothing there yet".
fn absent_on_404<T>(result: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ClientError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The steps from what `project` in the registry holds to `desired`.
pub async fn make_plan(
    client: &RegistryClient,
    project: &str,
    desired: &Desired,
) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        errors: desired.errors.clone(),
        ..Plan::default()
    };
    let mut to_publish: Vec<(String, String)> = Vec::new();
    for file in &desired.prompts {
        let published =
            absent_on_404(client.versions(project, &file.id).await)?.unwrap_or_default();
        match published.iter().find(|v| v.version == file.version) {
            Some(v) if v.content_hash == file.content_hash => {}
            Some(_) => plan.errors.push(format!(
                "{}: {}@{} is published with other content; bump the version",
                file.path, file.id, file.version
            )),
            None => {
                to_publish.push((file.id.clone(), file.version.clone()));
                plan.steps.push(Step::Publish {
                    id: file.id.clone(),
                    version: file.version.clone(),
                    path: file.path.clone(),
                    source: file.source.clone(),
                });
            }
        }
    }
    for policy in &desired.policies {
        let current = absent_on_404(client.policy(project, &policy.environment).await)?.flatten();
        // The registry keeps the same hash of the same text: one function computes both.
        if current
            .as_ref()
            .is_none_or(|r| r.source_hash != sha256_hex(&policy.source))
        {
            plan.steps.push(Step::UpdatePolicy {
                environment: policy.environment.clone(),
                from_revision: current.map(|r| r.revision),
                path: policy.path.clone(),
                source: policy.source.clone(),
            });
        }
    }
    // Moves in the project's promotion order, so dev lands before staging before prod.
    let order = match absent_on_404(client.project(project).await)? {
        Some(p) => p.environments,
        None => DEFAULT_ENVIRONMENTS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    };
    for env in desired.pins.keys() {
        if !order.contains(env) {
            plan.errors.push(format!(
                "promptops.toml pins environment `{env}`, which project `{project}` does not have ({})",
                order.join(", ")
            ));
        }
    }
    for env in &order {
        let Some(pins) = desired.pins.get(env) else {
            continue;
        };
        for (id, want) in pins {
            let Some(want) = pinned_version(want) else {
                plan.errors.push(format!(
                    "promptops.toml: environments.{env}.pins.{id} = `{want}` is not a version"
                ));
                continue;
            };
            let current = absent_on_404(client.labels(project, id).await)?
                .unwrap_or_default()
                .into_iter()
                .find(|l| &l.environment == env)
                .map(|l| l.version);
            if current.as_deref() == Some(want.as_str()) {
                continue;
            }
            let pending = to_publish.iter().any(|(i, v)| i == id && *v == want);
            let gates = if pending {
                None
            } else {
                let dry = PromoteRequest {
                    environment: env.clone(),
                    version: want.clone(),
                    dry_run: true,
                    ..PromoteRequest::default()
                };
                match client.promote(project, id, &dry).await {
                    Ok(promotion) => Some(promotion.gates),
                    Err(ClientError::Api { detail, .. }) => {
                        plan.errors.push(format!("{id} → {env} {want}: {detail}"));
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            plan.steps.push(Step::MoveLabel {
                id: id.clone(),
                environment: env.clone(),
                from: current,
                to: want,
                gates,
            });
        }
    }
    Ok(plan)
}

/// `1.2.0`, or a bare `2` as `2.0.0`.
fn pinned_version(text: &str) -> Option<String> {
    semver::Version::parse(text)
        .or_else(|_| semver::Version::parse(&format!("{text}.0.0")))
        .ok()
        .map(|v| v.to_string())
}

/// How far [`apply`] got.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Applied {
    pub applied: Vec<Step>,
    pub stopped: Option<Stopped>,
}

/// The step the registry refused, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Stopped {
    pub step: Step,
    pub detail: String,
    /// The problem's `gates` and `request`, for a blocked move.
    pub gates: Option<Json>,
    pub request: Option<Json>,
}

/// Takes the plan's steps in order; `done` hears of each one that succeeded. Stops at
/// the first the registry refuses.
pub async fn apply(
    client: &RegistryClient,
    project: &str,
    plan: &Plan,
    mut done: impl FnMut(&Step),
) -> Result<Applied, PlanError> {
    let mut out = Applied::default();
    for step in &plan.steps {
        let result = match step {
            Step::Publish {
                id, source, path, ..
            } => client
                .publish(project, id, source, Some(path))
                .await
                .map(drop),
            Step::UpdatePolicy {
                environment,
                source,
                ..
            } => client
                .put_policy(project, environment, source)
                .await
                .map(drop),
            Step::MoveLabel {
                id,
                environment,
                from,
                to,
                ..
            } => {
                let req = PromoteRequest {
                    environment: environment.clone(),
                    version: to.clone(),
                    expected_from: Some(from.clone()),
                    ..PromoteRequest::default()
                };
                client.promote(project, id, &req).await.map(drop)
            }
        };
        match result {
            Ok(()) => {
                done(step);
                out.applied.push(step.clone());
            }
            Err(ClientError::Api {
                detail, problem, ..
            }) => {
                out.stopped = Some(Stopped {
                    step: step.clone(),
                    detail,
                    gates: problem.get("gates").cloned(),
                    request: problem.get("request").cloned(),
                });
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_take_semver_or_a_bare_major() {
        assert_eq!(pinned_version("1.2.0").as_deref(), Some("1.2.0"));
        assert_eq!(pinned_version("2").as_deref(), Some("2.0.0"));
        assert_eq!(pinned_version("two"), None);
    }
}
