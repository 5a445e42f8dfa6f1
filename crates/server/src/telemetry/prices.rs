//! The price table as ingest asks it: the same few models over and over, so each
//! answer is kept. A model the table names only by a prefix or a version suffix costs a
//! scan of its 3,500 entries (about 0.7 ms); remembered, it costs a map lookup.

use promptops_core::pricing::{ModelPrice, PriceTable};
use std::collections::HashMap;
use std::sync::Mutex;

/// Answers kept before the memory is cleared (a bound against a sender inventing model
/// names).
const REMEMBERED: usize = 4_096;

/// Answers by `(provider, model)`.
type Known = HashMap<(Option<String>, String), Option<ModelPrice>>;

#[derive(Debug)]
pub struct Prices {
    table: PriceTable,
    known: Mutex<Known>,
}

impl Prices {
    pub fn new(table: PriceTable) -> Prices {
        Prices {
            table,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// `model`'s price (under `provider` when given), as [`PriceTable::lookup`] finds it.
    pub fn lookup(&self, provider: Option<&str>, model: &str) -> Option<ModelPrice> {
        let key = (provider.map(str::to_owned), model.to_owned());
        if let Some(found) = self.lock().get(&key) {
            return *found;
        }
        let found = self.table.lookup(provider, model);
        let mut known = self.lock();
        if known.len() >= REMEMBERED {
            known.clear();
        }
        known.insert(key, found);
        found
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_answers_are_the_tables() {
        let table = PriceTable::shipped();
        let prices = Prices::new(PriceTable::shipped());
        for (provider, model) in [
            (None, "gpt-4o-mini"),
            (Some("anthropic"), "claude-3-5-haiku-20241022"),
            (None, "no-such-model"),
        ] {
            assert_eq!(
                prices.lookup(provider, model),
                table.lookup(provider, model)
            );
            assert_eq!(
                prices.lookup(provider, model),
                table.lookup(provider, model),
                "again, from memory"
            );
        }
    }
}
