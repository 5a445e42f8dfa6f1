//! The registry's storage: [`SqlStore`], one implementation on SQLite (the embedded
//! default, one file) or PostgreSQL (at scale), whose interface is split by concern —
//! [`RegistryWrites`], [`DeliveryReads`], [`Identity`], [`Governance`], [`AuditLog`],
//! [`EventsHome`], [`Webhooks`], [`Alerting`], [`Browse`], [`Assessments`] — and
//! together is [`Store`]. It hands out the API's own types ([`promptops_api`]).
//!
//! Every write takes an [`Actor`] and appends a hash-chained audit event in the same
//! transaction as the change it records; the audit log read by sequence number is the
//! change feed ([`Change`]) that caches, watchers and other replicas follow.
//!
//! Files, by concern: `engine.rs` (the store, its write transaction, shared helpers),
//! `connect.rs` (opening either backend), `registry.rs` and `labels.rs` (writes),
//! `delivery.rs` (reads), `identity.rs` (users, keys, sessions), `governance/`
//! (policies, requests, judging, promotion), `audit_log.rs` and `changes.rs` (the log
//! and the feed), `webhooks.rs` (subscriptions and deliveries, fed by the feed),
//! `alerts.rs` (alerts and alert settings, audited), `assessments.rs` (red-team reports
//! and compatibility results, audited), `checkpoints.rs` (signed audit checkpoints, not
//! audited: recording one must not move the head it signs), `rows.rs` (row mappers), `audit.rs`
//! and `lineage.rs` (pure rules).

pub mod alerts;
pub mod assessments;
pub mod audit;
mod audit_log;
pub mod browse;
pub mod changes;
mod checkpoints;
mod connect;
mod delivery;
mod engine;
mod error;
pub mod events;
mod governance;
mod identity;
mod interface;
mod labels;
pub mod lineage;
mod migrate;
pub mod model;
pub mod private_files;
mod registry;
mod rows;
pub mod webhooks;

pub use changes::{Change, ChangeKind};
pub use connect::PoolSizes;
pub use engine::{Backend, MAX_NAME_CHARS, SqlStore};
pub use error::{Result, StoreError};
pub use interface::{
    Alerting, Assessments, AuditLog, Browse, Checkpoints, DeliveryReads, EventsHome, Governance,
    Identity, RegistryWrites, Store, Webhooks,
};
pub use model::*;
