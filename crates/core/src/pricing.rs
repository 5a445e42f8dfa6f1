//! Token prices and the cost of a call, in integers.
//!
//! Prices are kept as integer **pico-dollars per token** (1e-12 USD: exact for every
//! price in the table) and costs as integer **nano-dollars** (1e-9 USD). Micro-dollars
//! would be too coarse: ten input tokens of gpt-4o-mini cost 1.5 µUSD, so rounding each
//! call to whole micro-dollars would be off by a third. Floats appear only at the edges
//! (reading the JSON table, writing promptfoo-shaped output).

use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;

/// The shipped table (litellm's, MIT), compiled in.
const SHIPPED: &str = include_str!("../data/model-prices.json");

/// An amount of US dollars in nano-dollars.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct NanoUsd(pub i64);

impl NanoUsd {
    pub const ZERO: NanoUsd = NanoUsd(0);

    /// Dollars as a float, for output formats that want one (promptfoo's `cost`).
    pub fn as_usd_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Whole dollars given as a float (a budget from a config file), rounded to the nano-dollar.
    pub fn from_usd_f64(usd: f64) -> Option<NanoUsd> {
        let nanos = (usd * 1e9).round();
        (nanos.is_finite() && nanos.abs() < 9.0e18).then_some(NanoUsd(nanos as i64))
    }
}

impl std::ops::Add for NanoUsd {
    type Output = NanoUsd;
    fn add(self, other: NanoUsd) -> NanoUsd {
        NanoUsd(self.0.saturating_add(other.0))
    }
}

impl std::iter::Sum for NanoUsd {
    fn sum<I: Iterator<Item = NanoUsd>>(iter: I) -> NanoUsd {
        iter.fold(NanoUsd::ZERO, |a, b| a + b)
    }
}

impl fmt::Display for NanoUsd {
    /// `$0.000123456` with trailing zeros dropped (at least two decimals).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / 1_000_000_000;
        let frac = format!("{:09}", abs % 1_000_000_000);
        let mut frac = frac.trim_end_matches('0').to_owned();
        while frac.len() < 2 {
            frac.push('0');
        }
        write!(f, "{sign}${whole}.{frac}")
    }
}

/// One model's prices, in pico-dollars per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelPrice {
    pub input: u64,
    pub output: u64,
    /// Price of an input token read from the provider's prompt cache, when it differs.
    pub cached_input: Option<u64>,
}

/// Token counts of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt: u64,
    pub completion: u64,
    /// Of `prompt`, how many were served from the provider's cache.
    pub cached_prompt: u64,
}

impl ModelPrice {
    /// The cost of a call, rounded to the nearest nano-dollar.
    pub fn cost(&self, usage: Usage) -> NanoUsd {
        let cached = usage.cached_prompt.min(usage.prompt);
        let fresh = usage.prompt - cached;
        let cached_price = self.cached_input.unwrap_or(self.input);
        let picos = u128::from(fresh) * u128::from(self.input)
            + u128::from(cached) * u128::from(cached_price)
            + u128::from(usage.completion) * u128::from(self.output);
        let nanos = (picos + 500) / 1000;
        NanoUsd(i64::try_from(nanos).unwrap_or(i64::MAX))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    #[error("{source_name}: not a price table: {message}")]
    Malformed {
        source_name: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct RawEntry {
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    litellm_provider: Option<String>,
}

/// Model prices by name, with the provider each entry belongs to.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: HashMap<String, (ModelPrice, Option<String>)>,
}

impl PriceTable {
    /// The table shipped with promptops.
    pub fn shipped() -> PriceTable {
        let mut table = PriceTable::default();
        // The shipped file is tested to parse; an empty table is the safe fallback.
        let _ = table.merge_json(SHIPPED, "shipped model-prices.json");
        table
    }

    /// Adds or overrides entries from a JSON object in the shipped table's shape
    /// (`{"model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}`).
    pub fn merge_json(&mut self, text: &str, source_name: &str) -> Result<usize, PricingError> {
        let raw: HashMap<String, RawEntry> =
            serde_json::from_str(text).map_err(|e| PricingError::Malformed {
                source_name: source_name.to_owned(),
                message: e.to_string(),
            })?;
        let mut added = 0;
        for (name, entry) in raw {
            let (Some(input), Some(output)) =
                (entry.input_cost_per_token, entry.output_cost_per_token)
            else {
                continue;
            };
            let (Some(input), Some(output)) = (picos(input), picos(output)) else {
                return Err(PricingError::Malformed {
                    source_name: source_name.to_owned(),
                    message: format!("`{name}` has a negative or non-finite price"),
                });
            };
            let price = ModelPrice {
                input,
                output,
                cached_input: entry.cache_read_input_token_cost.and_then(picos),
            };
            self.entries.insert(name, (price, entry.litellm_provider));
            added += 1;
        }
        Ok(added)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The price of `model` as a provider names it. Tries, in order: the exact name;
    /// `provider/model`; an entry whose name ends in `/model` or `.model`, preferring
    /// the same provider; the same again with a dated or versioned suffix
    /// (`model-v1:0`). `None` when nothing matches: cost is then unknown, not zero.
    pub fn lookup(&self, provider: Option<&str>, model: &str) -> Option<ModelPrice> {
        if let Some((price, _)) = self.entries.get(model) {
            return Some(*price);
        }
        if let Some(p) = provider
            && let Some((price, _)) = self.entries.get(&format!("{p}/{model}"))
        {
            return Some(*price);
        }
        // `…/model` or `….model`: the model under a provider or region prefix.
        let prefixed = |head: &str| head.is_empty() || head.ends_with('/') || head.ends_with('.');
        let ends_with_model = |name: &str| name.strip_suffix(model).is_some_and(prefixed);
        // The same with a version suffix, as Bedrock names them (`….model-v1:0`).
        let versioned = |name: &str| {
            name.find(model).is_some_and(|i| {
                let rest = &name[i + model.len()..];
                prefixed(&name[..i]) && (rest.starts_with("-v") || rest.starts_with('@'))
            })
        };
        for matcher in [&ends_with_model as &dyn Fn(&str) -> bool, &versioned] {
            let mut candidates: Vec<(&String, &(ModelPrice, Option<String>))> = self
                .entries
                .iter()
                .filter(|(name, _)| matcher(name))
                .collect();
            // Stable choice: same provider first, then the shortest, then alphabetical name.
            candidates.sort_by_key(|(name, (_, prov))| {
                (prov.as_deref() != provider, name.len(), (*name).clone())
            });
            if let Some((_, (price, _))) = candidates.first() {
                return Some(*price);
            }
        }
        None
    }
}

fn picos(usd_per_token: f64) -> Option<u64> {
    let p = (usd_per_token * 1e12).round();
    (p.is_finite() && (0.0..1.8e19).contains(&p)).then_some(p as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_table_loads_every_priced_model() {
        let t = PriceTable::shipped();
        assert!(t.len() > 3000, "{}", t.len());
    }

    #[test]
    fn exact_prices_in_picos() {
        let t = PriceTable::shipped();
        let p = t.lookup(Some("openai"), "gpt-4o-mini").unwrap();
        assert_eq!(
            (p.input, p.output, p.cached_input),
            (150_000, 600_000, Some(75_000))
        );
    }

    #[test]
    fn cost_is_exact_integer_arithmetic() {
        let p = ModelPrice {
            input: 150_000,
            output: 600_000,
            cached_input: Some(75_000),
        };
        // 10 input tokens of gpt-4o-mini: 1.5 µUSD = 1500 nUSD, exactly.
        assert_eq!(
            p.cost(Usage {
                prompt: 10,
                completion: 0,
                cached_prompt: 0
            }),
            NanoUsd(1500)
        );
        assert_eq!(
            p.cost(Usage {
                prompt: 1000,
                completion: 500,
                cached_prompt: 400
            }),
            NanoUsd(90_000 + 30_000 + 300_000)
        );
        // Summing many calls loses nothing.
        let one = p.cost(Usage {
            prompt: 7,
            completion: 3,
            cached_prompt: 0,
        });
        let total: NanoUsd = std::iter::repeat_n(one, 5000).sum();
        assert_eq!(total, NanoUsd(one.0 * 5000));
    }

    #[test]
    fn lookups_with_provider_prefixes_and_versions() {
        let t = PriceTable::shipped();
        assert!(
            t.lookup(Some("anthropic"), "claude-sonnet-4-20250514")
                .is_some()
        );
        assert!(t.lookup(Some("openai"), "gpt-4").is_some());
        assert!(t.lookup(None, "no-such-model-anywhere").is_none());
    }

    #[test]
    fn user_files_override_and_extend() {
        let mut t = PriceTable::shipped();
        let n = t
            .merge_json(r#"{"mock-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}, "gpt-4o-mini": {"input_cost_per_token": 0, "output_cost_per_token": 0}}"#, "mine.json")
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(t.lookup(None, "mock-model").unwrap().output, 2_000_000);
        assert_eq!(t.lookup(None, "gpt-4o-mini").unwrap().input, 0);
        let err = t.merge_json("[1]", "bad.json").unwrap_err().to_string();
        assert!(err.starts_with("bad.json: not a price table"), "{err}");
        let err = t
            .merge_json(
                r#"{"m": {"input_cost_per_token": -1, "output_cost_per_token": 0}}"#,
                "neg.json",
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("`m` has a negative"), "{err}");
    }

    #[test]
    fn money_prints_as_dollars() {
        assert_eq!(NanoUsd(1500).to_string(), "$0.0000015");
        assert_eq!(NanoUsd(2_500_000_000).to_string(), "$2.50");
        assert_eq!(NanoUsd(-1).to_string(), "-$0.000000001");
        assert_eq!(NanoUsd::from_usd_f64(0.002), Some(NanoUsd(2_000_000)));
    }
}
