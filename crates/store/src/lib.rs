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
pub mod private_files;
mod sql;
mod sql_access;
mod sql_promotion;
mod sqlite;

pub use audit::{BrokenLink, Verification};
pub use error::{Result, StoreError};
pub use model::*;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use promptops_core::policy::GateOutcome;
use promptops_core::role::Role;
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

    /// Identity: creates the first admin (a role in every project) when the store has no user; `None` when it has.
    fn bootstrap_admin(
        &self,
        new: &NewUser,
        actor: &Actor,
    ) -> impl Future<Output = Result<Option<User>>> + Send;
    fn create_user(
        &self,
        new: &NewUser,
        roles: &[Membership],
        actor: &Actor,
    ) -> impl Future<Output = Result<User>> + Send;
    fn user(&self, name: &str) -> impl Future<Output = Result<Option<UserRecord>>> + Send;
    fn users(&self) -> impl Future<Output = Result<Vec<User>>> + Send;
    fn set_user_disabled(
        &self,
        name: &str,
        disabled: bool,
        actor: &Actor,
    ) -> impl Future<Output = Result<User>> + Send;
    /// Gives `user` `role` in `project` (`*`: every project), or takes it away (`None`).
    fn set_role(
        &self,
        project: &str,
        user: &str,
        role: Option<Role>,
        actor: &Actor,
    ) -> impl Future<Output = Result<User>> + Send;
    /// Removes a server setting, returning its value (never audited: it may be a secret).
    fn take_setting(&self, name: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    fn create_key(
        &self,
        new: &NewApiKey,
        actor: &Actor,
    ) -> impl Future<Output = Result<ApiKey>> + Send;
    fn api_key(&self, prefix: &str) -> impl Future<Output = Result<Option<ApiKeyRecord>>> + Send;
    /// Every API key (of one owner, when given).
    fn api_keys(&self, owner: Option<&str>) -> impl Future<Output = Result<Vec<ApiKey>>> + Send;
    fn revoke_key(
        &self,
        prefix: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<ApiKey>> + Send;
    fn touch_key(&self, prefix: &str, at: &str) -> impl Future<Output = Result<()>> + Send;
    /// Sessions: starts one (a login), forgetting those last refreshed before `forget_before`.
    fn start_session(
        &self,
        new: &NewSession,
        forget_before: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn session(&self, id: &str) -> impl Future<Output = Result<Option<SessionRecord>>> + Send;
    /// Trades the refresh token `presented` (hash) for `next`; a reused one ends the session.
    fn rotate_session(
        &self,
        id: &str,
        presented: &str,
        next: &str,
    ) -> impl Future<Output = Result<Rotation>> + Send;
    /// Ends one of `user`'s sessions (`only`) or all of them; how many were live.
    fn end_sessions(
        &self,
        user: &str,
        only: Option<&str>,
        reason: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Governance: stores a new revision of an environment's policy (the same text again changes nothing).
    fn put_policy(
        &self,
        project: &str,
        environment: &str,
        source: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<PolicyRevision>> + Send;
    fn policy(
        &self,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Option<PolicyRevision>>> + Send;
    fn policy_history(
        &self,
        project: &str,
    ) -> impl Future<Output = Result<Vec<PolicyRevision>>> + Send;
    /// Promotes through the environment's policy (see [`PromoteMode`]); `role` is the actor's in the project.
    fn promote(
        &self,
        project: &str,
        request: &PromoteRequest,
        actor: &Actor,
        role: Role,
    ) -> impl Future<Output = Result<Promotion>> + Send;
    /// Approves or rejects a request; the last approval may move the label.
    fn decide(
        &self,
        project: &str,
        request: u64,
        decision: &NewDecision,
        decider: &Decider,
    ) -> impl Future<Output = Result<Promotion>> + Send;
    fn withdraw(
        &self,
        project: &str,
        request: u64,
        actor: &Actor,
        role: Role,
        comment: Option<&str>,
    ) -> impl Future<Output = Result<PromotionRequest>> + Send;
    fn requests(
        &self,
        project: &str,
        status: Option<RequestStatus>,
    ) -> impl Future<Output = Result<Vec<PromotionRequest>>> + Send;
    fn request(
        &self,
        project: &str,
        request: u64,
    ) -> impl Future<Output = Result<PromotionRequest>> + Send;
    /// The gates of a request as they stand now.
    fn request_gates(
        &self,
        project: &str,
        request: u64,
    ) -> impl Future<Output = Result<Vec<GateOutcome>>> + Send;
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
            async fn bootstrap_admin(
                &self,
                new: &$crate::NewUser,
                actor: &$crate::Actor,
            ) -> $crate::Result<Option<$crate::User>> {
                self.registry.bootstrap_admin(new, actor).await
            }
            async fn create_user(
                &self,
                new: &$crate::NewUser,
                roles: &[$crate::Membership],
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::User> {
                self.registry.create_user(new, roles, actor).await
            }
            async fn user(&self, name: &str) -> $crate::Result<Option<$crate::UserRecord>> {
                self.registry.user(name).await
            }
            async fn users(&self) -> $crate::Result<Vec<$crate::User>> {
                self.registry.users().await
            }
            async fn set_user_disabled(
                &self,
                name: &str,
                disabled: bool,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::User> {
                self.registry.set_user_disabled(name, disabled, actor).await
            }
            async fn set_role(
                &self,
                project: &str,
                user: &str,
                role: Option<promptops_core::role::Role>,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::User> {
                self.registry.set_role(project, user, role, actor).await
            }
            async fn take_setting(&self, name: &str) -> $crate::Result<Option<String>> {
                self.registry.take_setting(name).await
            }
            async fn create_key(
                &self,
                new: &$crate::NewApiKey,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::ApiKey> {
                self.registry.create_key(new, actor).await
            }
            async fn api_key(&self, prefix: &str) -> $crate::Result<Option<$crate::ApiKeyRecord>> {
                self.registry.api_key(prefix).await
            }
            async fn api_keys(&self, owner: Option<&str>) -> $crate::Result<Vec<$crate::ApiKey>> {
                self.registry.api_keys(owner).await
            }
            async fn revoke_key(
                &self,
                prefix: &str,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::ApiKey> {
                self.registry.revoke_key(prefix, actor).await
            }
            async fn touch_key(&self, prefix: &str, at: &str) -> $crate::Result<()> {
                self.registry.touch_key(prefix, at).await
            }
            async fn start_session(
                &self,
                new: &$crate::NewSession,
                forget_before: &str,
            ) -> $crate::Result<()> {
                self.registry.start_session(new, forget_before).await
            }
            async fn session(&self, id: &str) -> $crate::Result<Option<$crate::SessionRecord>> {
                self.registry.session(id).await
            }
            async fn rotate_session(
                &self,
                id: &str,
                presented: &str,
                next: &str,
            ) -> $crate::Result<$crate::Rotation> {
                self.registry.rotate_session(id, presented, next).await
            }
            async fn end_sessions(
                &self,
                user: &str,
                only: Option<&str>,
                reason: &str,
                actor: &$crate::Actor,
            ) -> $crate::Result<u64> {
                self.registry.end_sessions(user, only, reason, actor).await
            }
            async fn put_policy(
                &self,
                project: &str,
                environment: &str,
                source: &str,
                actor: &$crate::Actor,
            ) -> $crate::Result<$crate::PolicyRevision> {
                self.registry
                    .put_policy(project, environment, source, actor)
                    .await
            }
            async fn policy(
                &self,
                project: &str,
                environment: &str,
            ) -> $crate::Result<Option<$crate::PolicyRevision>> {
                self.registry.policy(project, environment).await
            }
            async fn policy_history(
                &self,
                project: &str,
            ) -> $crate::Result<Vec<$crate::PolicyRevision>> {
                self.registry.policy_history(project).await
            }
            async fn promote(
                &self,
                project: &str,
                request: &$crate::PromoteRequest,
                actor: &$crate::Actor,
                role: promptops_core::role::Role,
            ) -> $crate::Result<$crate::Promotion> {
                self.registry.promote(project, request, actor, role).await
            }
            async fn decide(
                &self,
                project: &str,
                request: u64,
                decision: &$crate::NewDecision,
                decider: &$crate::Decider,
            ) -> $crate::Result<$crate::Promotion> {
                self.registry
                    .decide(project, request, decision, decider)
                    .await
            }
            async fn withdraw(
                &self,
                project: &str,
                request: u64,
                actor: &$crate::Actor,
                role: promptops_core::role::Role,
                comment: Option<&str>,
            ) -> $crate::Result<$crate::PromotionRequest> {
                self.registry
                    .withdraw(project, request, actor, role, comment)
                    .await
            }
            async fn requests(
                &self,
                project: &str,
                status: Option<$crate::RequestStatus>,
            ) -> $crate::Result<Vec<$crate::PromotionRequest>> {
                self.registry.requests(project, status).await
            }
            async fn request(
                &self,
                project: &str,
                request: u64,
            ) -> $crate::Result<$crate::PromotionRequest> {
                self.registry.request(project, request).await
            }
            async fn request_gates(
                &self,
                project: &str,
                request: u64,
            ) -> $crate::Result<Vec<promptops_core::policy::GateOutcome>> {
                self.registry.request_gates(project, request).await
            }
        }
    };
}
pub(crate) use store_via_sql;
