//! Execution telemetry: applications report each prompt call (`POST
//! /v1/projects/{project}/events`) and read metrics back per version (`GET
//! …/prompts/{id}/metrics`).
//!
//! - [`body`] splits a request body (a JSON array or NDJSON) into items, with positions;
//! - [`shapes`] reads each item in our shape, the PromptLog shape or the agent-trace shape;
//! - [`normalize`] checks, times, prices and captures it as the prompt says;
//! - [`pipeline`] queues it (bounded; a full queue answers 429) for the one writer that
//!   stores events and their rollups ([`promptops_store::events`]);
//! - [`metrics`] turns rollups into the metrics answer.
//!
//! The event store is opened on the first request that needs it (or the first alert
//! evaluation of a project whose labels point at a version), so a server that never
//! receives events and serves nothing never creates its tables.

pub mod body;
pub mod metrics;
pub mod normalize;
pub mod pipeline;
pub mod prices;
pub mod shapes;

use normalize::{Capture, Facts};
use pipeline::Pipeline;
use prices::Prices;
use promptops_core::pricing::PriceTable;
use promptops_store::{EventsHome, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Events the queue holds at most before ingest answers 429.
pub const QUEUE_CAPACITY: usize = 200_000;
/// How long what the registry says about a prompt's versions is trusted before an
/// unknown content hash makes ingest ask again.
const FACTS_TTL: Duration = Duration::from_secs(5);

/// The server's telemetry state.
#[derive(Debug)]
pub struct Telemetry {
    pipeline: OnceCell<Pipeline>,
    prices: Prices,
    facts: Mutex<HashMap<(String, String), PromptFacts>>,
    /// Where stored events are re-emitted as spans, when OTLP export is on.
    export: OnceLock<Arc<crate::otlp::executions::Executions>>,
}

/// A prompt's versions as ingest needs them.
#[derive(Debug)]
struct PromptFacts {
    /// `(version, content hash, capture)`, oldest first.
    versions: Vec<(String, String, Capture)>,
    read_at: Instant,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            pipeline: OnceCell::new(),
            prices: Prices::new(PriceTable::shipped()),
            facts: Mutex::new(HashMap::new()),
            export: OnceLock::new(),
        }
    }
}

impl Telemetry {
    /// The pipeline, opening the event store on first use.
    pub async fn pipeline<S: EventsHome>(&self, store: &S) -> Result<&Pipeline, StoreError> {
        self.pipeline
            .get_or_try_init(|| async {
                let events = store.open_events().await?;
                Ok(Pipeline::start(
                    events,
                    QUEUE_CAPACITY,
                    self.export.get().cloned(),
                ))
            })
            .await
    }

    /// Re-emits the events stored from now on through `executions` (set once, before
    /// the first event arrives).
    pub fn export_to(&self, executions: Arc<crate::otlp::executions::Executions>) {
        let _ = self.export.set(executions);
    }

    /// The pipeline if it was opened (for `/metrics`).
    pub fn started(&self) -> Option<&Pipeline> {
        self.pipeline.get()
    }

    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// What the registry says about an event of `prompt_id`: the version its content
    /// hash names, and how its content is kept (the version's `content_capture`, else
    /// the latest version's; `hashed` for a prompt the registry does not know).
    pub async fn facts<S: Store>(
        &self,
        store: &S,
        project: &str,
        prompt_id: &str,
        (version, hash): (Option<&str>, Option<&str>),
    ) -> Facts {
        let key = (project.to_owned(), prompt_id.to_owned());
        let known = |f: &PromptFacts| {
            hash.is_none_or(|h| f.versions.iter().any(|(_, vh, _)| same_hash(vh, h)))
        };
        {
            let cache = self.facts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(f) = cache.get(&key)
                && (known(f) || f.read_at.elapsed() < FACTS_TTL)
            {
                return f.answer(version, hash);
            }
        }
        let versions = store
            .versions(project, prompt_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|v| {
                let capture = Capture::of_content(&v.content);
                (v.version, v.content_hash, capture)
            })
            .collect();
        let fresh = PromptFacts {
            versions,
            read_at: Instant::now(),
        };
        let answer = fresh.answer(version, hash);
        self.facts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, fresh);
        answer
    }
}

impl PromptFacts {
    /// The version `hash` names, and the capture of the version named (by `version` or
    /// `hash`), else of the latest.
    fn answer(&self, version: Option<&str>, hash: Option<&str>) -> Facts {
        let by_hash = hash.and_then(|h| self.versions.iter().find(|(_, vh, _)| same_hash(vh, h)));
        let by_version = version.and_then(|v| {
            let wanted = promptops_core::prompt::parse_version_text(v)
                .ok()?
                .to_string();
            self.versions.iter().find(|(vv, _, _)| *vv == wanted)
        });
        Facts {
            version: by_hash.map(|(v, _, _)| v.clone()),
            capture: by_version
                .or(by_hash)
                .or(self.versions.last())
                .map_or(Capture::Hashed, |(_, _, c)| *c),
        }
    }
}

/// Content hashes compare with or without their `sha256:` prefix.
fn same_hash(stored: &str, given: &str) -> bool {
    let bare = |h: &str| h.strip_prefix("sha256:").unwrap_or(h).to_ascii_lowercase();
    bare(stored) == bare(given)
}
