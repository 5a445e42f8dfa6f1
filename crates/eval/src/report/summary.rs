//! Counts and sums over a run, per prompt × provider and overall.

use crate::pricing::NanoUsd;
use crate::provider::TokenUsage;
use crate::runner::{Outcome, Row};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptSummary {
    pub score_sum: f64,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub assert_pass: usize,
    pub assert_fail: usize,
    pub latency_ms: u64,
    pub tokens: TokenUsage,
    pub cost: NanoUsd,
    /// Rows whose cost is known (an unknown price is not a cost of zero).
    pub priced: usize,
    /// Per metric, the sum over rows of its weighted score (promptfoo's
    /// `accumulateNamedMetric`: a row's mean times the weight behind it).
    pub named_scores: BTreeMap<String, f64>,
    /// Per metric, how many assertions fed it over the rows (`namedScoresCount`).
    pub named_counts: BTreeMap<String, usize>,
    /// Per metric, the total weight behind it (`namedScoreWeights`).
    pub named_weights: BTreeMap<String, f64>,
}

impl PromptSummary {
    pub fn rows(&self) -> usize {
        self.pass + self.fail + self.error
    }

    /// Mean row score (0 with no rows).
    pub fn mean_score(&self) -> f64 {
        self.mean(self.score_sum)
    }

    /// Mean row latency in milliseconds (0 with no rows).
    pub fn mean_latency_ms(&self) -> f64 {
        self.mean(self.latency_ms as f64)
    }

    fn mean(&self, total: f64) -> f64 {
        match self.rows() {
            0 => 0.0,
            n => total / n as f64,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Indexed by `promptIdx`.
    pub per_prompt: Vec<PromptSummary>,
    pub successes: usize,
    pub failures: usize,
    pub errors: usize,
    pub tokens: TokenUsage,
    pub cost: NanoUsd,
    /// Rows whose cost is known.
    pub priced: usize,
}

impl Summary {
    pub fn rows(&self) -> usize {
        self.successes + self.failures + self.errors
    }

    /// Passed rows as a percentage of all rows (100 when there are none).
    pub fn pass_rate(&self) -> f64 {
        super::describe::pass_rate(self.successes, self.rows())
    }

    /// promptfoo's rule: the run fails when the pass rate is under 100% (errors count).
    pub fn all_passed(&self) -> bool {
        self.failures == 0 && self.errors == 0
    }
}

impl Summary {
    /// Nothing counted yet, for a run with `n_prompt_slots` prompts × providers.
    pub fn new(n_prompt_slots: usize) -> Summary {
        Summary {
            per_prompt: vec![PromptSummary::default(); n_prompt_slots],
            ..Summary::default()
        }
    }

    /// Counts one finished row.
    pub fn add(&mut self, row: &Row) {
        let s = self;
        if s.per_prompt.len() <= row.prompt_idx {
            s.per_prompt
                .resize(row.prompt_idx + 1, PromptSummary::default());
        }
        let p = &mut s.per_prompt[row.prompt_idx];
        p.score_sum += row.score;
        match row.outcome {
            Outcome::Pass => {
                p.pass += 1;
                s.successes += 1;
            }
            Outcome::Fail => {
                p.fail += 1;
                s.failures += 1;
            }
            Outcome::Error => {
                p.error += 1;
                s.errors += 1;
            }
        }
        if let Some(g) = &row.grading {
            // A `select-best` verdict standing in for an error row's grading counts as
            // one assertion (promptfoo counts every comparison verdict).
            let bare = g.bare_comparison.into_iter();
            for pass in g.component_results.iter().map(|c| c.pass).chain(bare) {
                if pass {
                    p.assert_pass += 1
                } else {
                    p.assert_fail += 1
                }
            }
            for (name, score) in &g.named_scores {
                // The assertions that name the metric (at least one: a script's named
                // score has none), and the weight behind the row's mean.
                let count = g
                    .component_results
                    .iter()
                    .filter(|c| c.metric.as_ref() == Some(name))
                    .count()
                    .max(1);
                let (weight, weighted) = match g.named_score_weights.get(name) {
                    Some(w) => (*w, score * w),
                    None => (count as f64, *score),
                };
                *p.named_scores.entry(name.clone()).or_default() += weighted;
                *p.named_counts.entry(name.clone()).or_default() += count;
                *p.named_weights.entry(name.clone()).or_default() += weight;
            }
        }
        p.latency_ms += row.latency_ms;
        let usage = row.response.as_ref().map_or(
            TokenUsage {
                num_requests: 1,
                ..TokenUsage::default()
            },
            |r| r.token_usage,
        );
        add_usage(&mut p.tokens, usage);
        add_usage(&mut s.tokens, usage);
        let cost = row.response.as_ref().and_then(|r| r.cost);
        if cost.is_some() {
            p.priced += 1;
            s.priced += 1;
        }
        let cost = cost.unwrap_or_default();
        p.cost = p.cost + cost;
        s.cost = s.cost + cost;
    }
}

fn add_usage(total: &mut TokenUsage, u: TokenUsage) {
    total.prompt += u.prompt;
    total.completion += u.completion;
    total.total += u.total;
    total.cached += u.cached;
    total.num_requests += u.num_requests;
}
