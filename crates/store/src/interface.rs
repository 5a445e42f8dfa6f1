//! What the server needs of storage, split by concern so that a layer in front of the
//! store (the delivery cache) implements only the part it changes. [`Store`] is all of
//! them together; [`crate::SqlStore`] is the one implementation.
//!
//! Methods return `Send` futures, so the server can be generic over them. Racing
//! writers are serialised; the loser of a race gets [`StoreError::Conflict`] with the
//! state that won.
//!
//! [`StoreError::Conflict`]: crate::StoreError::Conflict

use crate::alerts::{AlertFilter, NewAlert};
use crate::changes::Change;
use crate::error::Result;
use crate::model::*;
use crate::webhooks::{AttemptOutcome, AttemptRecord, DueDelivery, NewWebhook};
use promptops_api::*;
use promptops_core::policy::Policy;
use serde_json::Value as Json;
use std::future::Future;
use tokio::sync::watch;

/// Changes to prompts: projects, versions, label moves, eval runs.
pub trait RegistryWrites: Send + Sync + 'static {
    fn create_project(
        &self,
        name: &str,
        environments: Option<&[String]>,
        actor: &Actor,
    ) -> impl Future<Output = Result<Project>> + Send;
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
    /// Moves a label without a policy's judgement: rollbacks (the way back is never
    /// blocked) and tests.
    fn move_label(
        &self,
        project: &str,
        request: &LabelMoveRequest,
        actor: &Actor,
    ) -> impl Future<Output = Result<LabelMove>> + Send;
    fn attach_eval(
        &self,
        project: &str,
        run: &NewEvalRun,
        actor: &Actor,
    ) -> impl Future<Output = Result<EvalRun>> + Send;
}

/// Reads of prompts: what running apps and the UI ask for.
pub trait DeliveryReads: Send + Sync + 'static {
    fn project(&self, name: &str) -> impl Future<Output = Result<Project>> + Send;
    fn projects(&self) -> impl Future<Output = Result<Vec<Project>>> + Send;
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
    /// The version at `revision` in the prompt's publication order (1 = the first), or
    /// the newest when `revision` is `None`.
    fn version_at(
        &self,
        project: &str,
        id: &str,
        revision: Option<u64>,
    ) -> impl Future<Output = Result<Version>> + Send;
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
    /// Every prompt `environment` serves now, by prompt id (what a bundle holds).
    fn served(
        &self,
        project: &str,
        environment: &str,
    ) -> impl Future<Output = Result<Vec<Version>>> + Send;
    fn eval_runs(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> impl Future<Output = Result<Vec<EvalRun>>> + Send;
    fn eval_report(&self, project: &str, run: u64) -> impl Future<Output = Result<Json>> + Send;
}

/// Users, roles, API keys, sessions and server settings.
pub trait Identity: Send + Sync + 'static {
    /// Creates the first admin (a role in every project) when the store has no user;
    /// `None` when it has.
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
    /// Disabling ends the user's sessions and revokes their keys, for good.
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
    /// A server setting that is not a secret (the registry's id), storing `initial`
    /// first when unset; racing replicas agree on the first value stored.
    fn setting_or_init(
        &self,
        name: &str,
        initial: &str,
    ) -> impl Future<Output = Result<String>> + Send;
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
    /// Starts a session (a login), forgetting those last refreshed before `forget_before`.
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
}

/// Policies, promotion requests, approvals and the gated promotion.
pub trait Governance: Send + Sync + 'static {
    /// Stores a new revision of an environment's policy (the same text again changes
    /// nothing). `parsed` is `source` as the caller parsed it, once, with the findings
    /// it showed; a policy that names another environment is refused.
    fn put_policy(
        &self,
        project: &str,
        environment: &str,
        source: &str,
        parsed: &Policy,
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
    /// Promotes through the environment's policy (see [`PromoteMode`]); `role` is the
    /// actor's in the project.
    fn promote(
        &self,
        project: &str,
        request: &Promote,
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

/// The hash-chained audit log, and the ordered change feed read from it.
pub trait AuditLog: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Checks the database answers.
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;
    /// Connections the pool holds now, and how many of them are idle.
    fn pool_connections(&self) -> (u32, u32);
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
    /// Every state change committed after sequence number `after`, in order, at most
    /// `limit`: the feed every cache and watcher follows (from any replica, since it is
    /// read from the shared database).
    fn changes_after(
        &self,
        after: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<Change>>> + Send;
    /// The newest sequence number committed through this process, updated as each
    /// write commits: wait on it, then read [`AuditLog::changes_after`].
    fn committed(&self) -> watch::Receiver<u64>;
}

/// Signed audit checkpoints (see [`promptops_api::checkpoints`]) and the chain hashes
/// they commit to.
pub trait Checkpoints: Send + Sync + 'static {
    /// The chain hashes of events after `after`, in sequence order, at most `limit`:
    /// the leaves of the checkpoints' Merkle tree.
    fn audit_hashes(
        &self,
        after: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<(u64, String)>>> + Send;
    /// Stores a checkpoint; `false` when one of that size is stored already (another
    /// replica signed it first).
    fn add_checkpoint(&self, checkpoint: &Checkpoint) -> impl Future<Output = Result<bool>> + Send;
    /// Every checkpoint, oldest (smallest) first.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<Checkpoint>>> + Send;
}

/// Where the execution events of this registry are kept (see [`crate::events`]).
pub trait EventsHome: Send + Sync + 'static {
    /// Opens (creating and migrating if needed) the event store.
    fn open_events(&self) -> impl Future<Output = Result<crate::events::EventStore>> + Send;
}

/// Outbound webhooks: subscriptions, and the deliveries the change feed owes them
/// (see [`crate::webhooks`]).
pub trait Webhooks: Send + Sync + 'static {
    /// Stores a subscription (audited: `webhook.created`); it receives changes
    /// committed after its creation.
    fn create_webhook(
        &self,
        new: &NewWebhook,
        actor: &Actor,
    ) -> impl Future<Output = Result<Webhook>> + Send;
    /// A project's subscriptions, oldest first (never their secrets).
    fn webhooks(&self, project: &str) -> impl Future<Output = Result<Vec<Webhook>>> + Send;
    fn webhook(&self, project: &str, id: &str) -> impl Future<Output = Result<Webhook>> + Send;
    /// Deletes a subscription with its deliveries (audited: `webhook.deleted`).
    fn delete_webhook(
        &self,
        project: &str,
        id: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<Webhook>> + Send;
    /// Reads the change feed past the dispatcher's cursor (at most `limit` events) and
    /// stores a pending delivery, due at `now_ms`, for each subscription each event
    /// matches; moves the cursor. How many deliveries it stored.
    fn enqueue_from_feed(
        &self,
        limit: u64,
        now_ms: i64,
    ) -> impl Future<Output = Result<u64>> + Send;
    /// Stores a test delivery of `event`, due at `now_ms`.
    fn enqueue_test_delivery(
        &self,
        project: &str,
        webhook_id: &str,
        event: &WebhookEvent,
        now_ms: i64,
    ) -> impl Future<Output = Result<WebhookDelivery>> + Send;
    /// Claims pending deliveries due by `now_ms` for `lease_ms` (another dispatcher
    /// skips them until then), at most `limit`.
    fn claim_due_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<DueDelivery>>> + Send;
    /// Records an attempt and where the delivery goes next, releasing its claim.
    fn record_attempt(
        &self,
        delivery: &str,
        record: &AttemptRecord,
        outcome: AttemptOutcome,
    ) -> impl Future<Output = Result<()>> + Send;
    /// A subscription's deliveries, newest first, with their attempts.
    fn deliveries(
        &self,
        project: &str,
        webhook_id: &str,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<WebhookDelivery>>> + Send;
    /// When the earliest pending delivery is due (unix milliseconds).
    fn next_delivery_due(&self) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Forgets finished (delivered or failed) deliveries created before `before_ms`
    /// (unix milliseconds), with their attempts; how many.
    fn prune_deliveries(&self, before_ms: i64) -> impl Future<Output = Result<u64>> + Send;
    /// Every subscription's id and sealed secret (to seal them again after the
    /// server's signing secret was rotated).
    fn sealed_webhook_secrets(&self) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Replaces a sealed secret by the same secret sealed anew, if it is still `old`.
    fn reseal_webhook_secret(
        &self,
        id: &str,
        old: &str,
        new: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Alerts and each project's alert settings (see [`crate::alerts`]).
pub trait Alerting: Send + Sync + 'static {
    /// A project's alert settings (the defaults when it set none).
    fn alert_settings(&self, project: &str) -> impl Future<Output = Result<AlertSettings>> + Send;
    /// Replaces a project's alert settings (audited: `alerts.settings_changed`); values
    /// out of range are refused; the settings in force again change nothing.
    fn set_alert_settings(
        &self,
        project: &str,
        settings: &AlertSettings,
        actor: &Actor,
    ) -> impl Future<Output = Result<AlertSettings>> + Send;
    /// A project's alerts, newest first.
    fn alerts(
        &self,
        project: &str,
        filter: &AlertFilter,
    ) -> impl Future<Output = Result<Vec<Alert>>> + Send;
    /// Fires an alert (audited: `alert.fired`), unless one with the same prompt,
    /// environment, version and kind is firing already: then `None`.
    fn fire_alert(
        &self,
        project: &str,
        new: &NewAlert,
        actor: &Actor,
    ) -> impl Future<Output = Result<Option<Alert>>> + Send;
    /// Resolves a firing alert (audited: `alert.resolved`); `None` when it was not
    /// firing (any more).
    fn resolve_alert(
        &self,
        project: &str,
        id: u64,
        resolution: &str,
        actor: &Actor,
    ) -> impl Future<Output = Result<Option<Alert>>> + Send;
}

/// What is recorded about a version beyond its eval runs: red-team reports and
/// compatibility results (see [`crate::assessments`]). Writes are audited
/// (`redteam.attached`, `compatibility.recorded`); rows are never changed.
pub trait Assessments: Send + Sync + 'static {
    /// Attaches a red-team report to `id@version` (`version` in canonical form). The
    /// report must pass [`RedteamReport::check`], name this version and, when it carries
    /// one, its content hash; the stored summary is recomputed from the cases.
    fn attach_redteam(
        &self,
        project: &str,
        id: &str,
        version: &str,
        report: &RedteamReport,
        actor: &Actor,
    ) -> impl Future<Output = Result<RedteamRun>> + Send;
    /// The red-team runs of a version, oldest first.
    fn redteam_runs(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> impl Future<Output = Result<Vec<RedteamRun>>> + Send;
    /// A red-team run's whole report, as it was sent.
    fn redteam_report(&self, project: &str, run: u64) -> impl Future<Output = Result<Json>> + Send;
    /// Records a version's results on several models, one row per model; refuses bad
    /// thresholds, no results, a model twice, a malformed model id, or a verdict the
    /// counts and thresholds do not give.
    fn record_compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
        results: &PublishCompatibility,
        actor: &Actor,
    ) -> impl Future<Output = Result<Vec<CompatibilityRecord>>> + Send;
    /// A version's matrix: the newest recorded result per model beside the verdict its
    /// file declares (`model.compatibility`), by model.
    fn compatibility(
        &self,
        project: &str,
        id: &str,
        version: &str,
    ) -> impl Future<Output = Result<CompatibilityMatrix>> + Send;
}

/// Reads made for people browsing the registry (see [`crate::browse`]).
pub trait Browse: Send + Sync + 'static {
    /// Every prompt of the project (`only`: these prompt ids) with its newest version
    /// and its labels, in prompt order.
    fn catalog(
        &self,
        project: &str,
        only: Option<&[String]>,
    ) -> impl Future<Output = Result<Vec<crate::browse::CatalogEntry>>> + Send;
    /// Audit events newest first, filtered.
    fn audit_page(
        &self,
        query: &crate::browse::AuditQuery,
    ) -> impl Future<Output = Result<Vec<AuditEvent>>> + Send;
    /// The project's newest eval runs (of one prompt, when given), newest first.
    fn recent_eval_runs(
        &self,
        project: &str,
        prompt_id: Option<&str>,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<EvalRun>>> + Send;
    /// Checks the events after `start` (an event verified before; `None`: the whole
    /// chain), and that `start` itself is still as it was.
    fn audit_verify_after(
        &self,
        start: Option<&AuditHead>,
        kept_head: Option<&AuditHead>,
    ) -> impl Future<Output = Result<Verification>> + Send;
}

/// Everything the server needs of storage.
pub trait Store:
    RegistryWrites
    + DeliveryReads
    + Identity
    + Governance
    + AuditLog
    + EventsHome
    + Webhooks
    + Alerting
    + Browse
    + Assessments
    + Checkpoints
{
}

impl<
    T: RegistryWrites
        + DeliveryReads
        + Identity
        + Governance
        + AuditLog
        + EventsHome
        + Webhooks
        + Alerting
        + Browse
        + Assessments
        + Checkpoints,
> Store for T
{
}
