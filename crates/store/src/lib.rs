//! The registry's storage: one contract, [`Store`], with two implementations —
//! [`SqliteStore`] (the embedded default, one file) and [`PostgresStore`] (at scale).
//! Both run the same embedded, append-only migrations and the same SQL (through
//! sqlx's `Any` driver); they differ in how they connect, lock writers and make the
//! audit log append-only. One contract test suite (`tests/contract.rs`) runs on both.
//!
//! Every write takes an [`Actor`] and appends a hash-chained audit event in the same
//! transaction as the change it records.

pub mod audit;
mod error;
pub mod lineage;
mod migrate;
pub mod model;
mod postgres;
mod sql;
mod sqlite;

pub use audit::{BrokenLink, Verification};
pub use error::{Result, StoreError};
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use serde_json::Value as Json;
use std::future::Future;

/// What the server needs of storage. Implementations are safe to share between
/// tasks; racing writers are serialised, and the loser of a race gets
/// [`StoreError::Conflict`] with the state that won.
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Checks the database answers.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    fn create_project(
        &self,
        name: &str,
        environments: Option<&[String]>,
        actor: &Actor,
    ) -> impl Future<Output = Result<Project>> + Send;
    fn project(&self, name: &str) -> impl Future<Output = Result<Project>> + Send;
    fn projects(&self) -> impl Future<Output = Result<Vec<Project>>> + Send;
    fn set_environments(
        &self,
        project: &str,
        environments: &[String],
        actor: &Actor,
    ) -> impl Future<Output = Result<Project>> + Send;

    /// Publishes a version (creating the project and prompt on first use). The same
    /// content again returns the existing version with `created: false`.
    fn publish(
        &self,
        project: &str,
        version: &NewVersion,
        actor: &Actor,
    ) -> impl Future<Output = Result<Published>> + Send;
    fn prompts(&self, project: &str) -> impl Future<Output = Result<Vec<PromptSummary>>> + Send;
    /// Every version of a prompt, oldest first.
    fn versions(
        &self,
        project: &str,
        id: &str,
    ) -> impl Future<Output = Result<Vec<Version>>> + Send;
    fn version(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> impl Future<Output = Result<Version>> + Send;

    fn move_label(
        &self,
        project: &str,
        request: &LabelMoveRequest,
        actor: &Actor,
    ) -> impl Future<Output = Result<LabelMove>> + Send;
    /// Where each environment's label points, in promotion order.
    fn labels(&self, project: &str, id: &str) -> impl Future<Output = Result<Vec<Label>>> + Send;
    /// Every move of the prompt's labels (of one environment, when given), oldest first.
    fn label_history(
        &self,
        project: &str,
        id: &str,
        environment: Option<&str>,
    ) -> impl Future<Output = Result<Vec<LabelMove>>> + Send;
    /// The version `environment` serves now.
    fn resolve(
        &self,
        project: &str,
        id: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Version>> + Send;

    fn attach_eval(
        &self,
        project: &str,
        run: &NewEvalRun,
        actor: &Actor,
    ) -> impl Future<Output = Result<EvalRun>> + Send;
    fn eval_runs(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> impl Future<Output = Result<Vec<EvalRun>>> + Send;
    fn eval_report(&self, project: &str, run: u64) -> impl Future<Output = Result<Json>> + Send;

    /// Audit events after sequence number `after`, at most `limit`.
    fn audit_events(
        &self,
        after: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<AuditEvent>>> + Send;
    /// Re-computes the whole chain (and checks it against a head kept elsewhere).
    fn audit_verify(
        &self,
        kept_head: Option<&AuditHead>,
    ) -> impl Future<Output = Result<Verification>> + Send;
    fn audit_head(&self) -> impl Future<Output = Result<Option<AuditHead>>> + Send;
}

/// Implements [`Store`] for a backend whose `registry` field is the shared SQL engine.
macro_rules! store_via_sql {
    ($ty:ty, $backend:literal) => {
        impl $crate::Store for $ty {
            fn backend(&self) -> &'static str {
                $backend
            }
            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query("SELECT 1").execute(&self.registry.pool).await?;
                Ok(())
            }
            async fn create_project(
                &self,
                name: &str,
                environments: Option<&[String]>,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::Project> {
                self.registry
                    .create_project(name, environments, actor)
                    .await
            }
            async fn project(&self, name: &str) -> $crate::Result<$crate::Project> {
                self.registry.project(name).await
            }
            async fn projects(&self) -> $crate::Result<Vec<$crate::Project>> {
                self.registry.projects().await
            }
            async fn set_environments(
                &self,
                project: &str,
                environments: &[String],
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::Project> {
                self.registry
                    .set_environments(project, environments, actor)
                    .await
            }
            async fn publish(
                &self,
                project: &str,
                version: &$crate::NewVersion,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::Published> {
                self.registry.publish(project, version, actor).await
            }
            async fn prompts(&self, project: &str) -> $crate::Result<Vec<$crate::PromptSummary>> {
                self.registry.prompts(project).await
            }
            async fn versions(
                &self,
                project: &str,
                id: &str,
            ) -> $crate::Result<Vec<$crate::Version>> {
                self.registry.versions(project, id).await
            }
            async fn version(
                &self,
                project: &str,
                id: &str,
                version: &str,
            ) -> $crate::Result<$crate::Version> {
                self.registry.version(project, id, version).await
            }
            async fn move_label(
                &self,
                project: &str,
                request: &$crate::LabelMoveRequest,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::LabelMove> {
                self.registry.move_label(project, request, actor).await
            }
            async fn labels(&self, project: &str, id: &str) -> $crate::Result<Vec<$crate::Label>> {
                self.registry.labels(project, id).await
            }
            async fn label_history(
                &self,
                project: &str,
                id: &str,
                environment: Option<&str>,
            ) -> $crate::Result<Vec<$crate::LabelMove>> {
                self.registry.label_history(project, id, environment).await
            }
            async fn resolve(
                &self,
                project: &str,
                id: &str,
                environment: &str,
            ) -> $crate::Result<$crate::Version> {
                self.registry.resolve(project, id, environment).await
            }
            async fn attach_eval(
                &self,
                project: &str,
                run: &$crate::NewEvalRun,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::EvalRun> {
                self.registry.attach_eval(project, run, actor).await
            }
            async fn eval_runs(
                &self,
                project: &str,
                id: &str,
                version: &str,
            ) -> $crate::Result<Vec<$crate::EvalRun>> {
                self.registry.eval_runs(project, id, version).await
            }
            async fn eval_report(
                &self,
                project: &str,
                run: u64,
            ) -> $crate::Result<serde_json::Value> {
                self.registry.eval_report(project, run).await
            }
            async fn audit_events(
                &self,
                after: u64,
                limit: u64,
            ) -> $crate::Result<Vec<$crate::AuditEvent>> {
                self.registry.audit_events(after, limit).await
            }
            async fn audit_verify(
                &self,
                kept_head: Option<&$crate::AuditHead>,
            ) -> $crate::Result<$crate::Verification> {
                self.registry.audit_verify(kept_head).await
            }
            async fn audit_head(&self) -> $crate::Result<Option<$crate::AuditHead>> {
                self.registry.audit_head().await
            }
        }
    };
}
pub(crate) use store_via_sql;
