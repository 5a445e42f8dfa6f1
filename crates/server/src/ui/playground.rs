//! The editor's playground: a draft, rendered with sample variables, sent to one of
//! the eval providers the server is configured to offer. Only configured providers
//! run, with the server's own credentials (from its environment), so an editor cannot
//! point the server at an arbitrary URL.

use promptops_eval::pricing::PriceTable;
use promptops_eval::provider::{Provider, Shared};
use promptops_eval::suite::ProviderSpec;
use serde::Serialize;
use serde_json::Map;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// How long one playground call may take.
const TIMEOUT: Duration = Duration::from_secs(60);

static PRICES: LazyLock<Arc<PriceTable>> = LazyLock::new(|| Arc::new(PriceTable::shipped()));

/// What a playground run shows.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    pub provider: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    /// `None`: the model's price is unknown.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    pub finish_reason: Option<String>,
}

fn refused(provider: &str, error: String) -> Outcome {
    Outcome {
        provider: provider.to_owned(),
        error: Some(error),
        ..Outcome::default()
    }
}

pub async fn run(
    settings: &crate::Settings,
    id: &str,
    source: &str,
    vars: &str,
    provider: &str,
) -> Outcome {
    if !settings.playground_providers.iter().any(|p| p == provider) {
        return refused(
            provider,
            if settings.playground_providers.is_empty() {
                "the playground is off: the server offers no provider (set `[server] playground_providers` or PROMPTOPS_PLAYGROUND_PROVIDERS)".into()
            } else {
                format!(
                    "`{provider}` is not one of the playground's providers: {}",
                    settings.playground_providers.join(", ")
                )
            },
        );
    }
    let prompt = match super::pages::editor::rendered_for_provider(
        id,
        source,
        vars,
        settings.max_version_bytes,
    ) {
        Ok(p) => p,
        Err(e) => return refused(provider, e),
    };
    let shared = match Shared::new(PRICES.clone(), Map::new(), TIMEOUT) {
        Ok(s) => s,
        Err(e) => return refused(provider, e),
    };
    let spec = ProviderSpec {
        id: provider.to_owned(),
        reported_id: provider.to_owned(),
        label: provider.to_owned(),
        ..ProviderSpec::default()
    };
    let provider_ready = match Provider::new(spec, shared) {
        Ok(p) => p,
        Err(e) => return refused(provider, e),
    };
    let started = Instant::now();
    let answer = provider_ready.call(&prompt, &Map::new(), &Map::new()).await;
    let measured = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Outcome {
        provider: provider.to_owned(),
        output: answer
            .output
            .as_ref()
            .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned)),
        error: answer.error.clone(),
        input_tokens: answer.token_usage.prompt,
        output_tokens: answer.token_usage.completion,
        total_tokens: answer.token_usage.total,
        cost_usd: answer.cost.map(|c| c.as_usd_f64()),
        latency_ms: answer.latency_ms.unwrap_or(measured),
        finish_reason: answer.finish_reason.clone(),
    }
}
