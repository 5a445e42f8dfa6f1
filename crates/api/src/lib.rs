//! The registry's wire types: what goes over HTTP between `promptops serve` and its
//! clients (the CLI, the runtime SDKs). Requests, responses and problem details only —
//! no database, no HTTP stack — so an application that embeds the SDK links none of
//! the server's dependencies. The server's handlers speak these types; the store hands
//! them out; the OpenAPI document is generated from their annotations.

pub mod alerts;
pub mod assessments;
pub mod audit;
pub mod checkpoints;
pub mod events;
pub mod evidence;
pub mod governance;
pub mod identity;
pub mod langfuse;
pub mod problem;
pub mod registry;
pub mod webhooks;

pub use alerts::*;
pub use assessments::*;
pub use audit::*;
pub use checkpoints::{Checkpoint, CheckpointKey, ConsistencyProofDoc, InclusionProofDoc};
pub use events::*;
pub use evidence::*;
pub use governance::*;
pub use identity::*;
pub use problem::Problem;
pub use promptops_core::policy::GateOutcome;
pub use promptops_core::role::Role;
pub use registry::*;
pub use webhooks::{
    CreateWebhook, CreatedWebhook, DeliveryAttempt, DeliveryStatus, Webhook, WebhookDelivery,
    WebhookEvent,
};
