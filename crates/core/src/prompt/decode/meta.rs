//! What a prompt promises: `metrics` thresholds and `compliance` metadata.

use super::*;

impl Decoder<'_> {
    pub(super) fn metrics(&mut self, node: &Node) -> BTreeMap<String, Json> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, "metrics", "a mapping of numbers");
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for e in entries {
            let Some(x) = e.value.as_f64() else {
                self.wrong_type(&e.value, &format!("metrics.{}", e.key), "a number");
                continue;
            };
            let problem = match e.key.as_str() {
                "baseline_accuracy" if !(0.0..=1.0).contains(&x) => {
                    Some("a fraction between 0 and 1 (0.92, not 92)")
                }
                "max_cost_per_call_usd" | "max_cost_per_day_usd"
                    if !(x >= 0.0 && x.is_finite()) =>
                {
                    Some("a non-negative amount of US dollars")
                }
                "max_latency_ms" if !(x > 0.0 && x.is_finite()) => {
                    Some("a positive number of milliseconds")
                }
                "max_attack_success_rate" if !(0.0..=1.0).contains(&x) => {
                    Some("a fraction between 0 and 1 (the red team's attack success rate, 0.02)")
                }
                "max_pii_leaks" if !(x >= 0.0 && x.fract() == 0.0 && x.is_finite()) => {
                    Some("a whole number of red-team cases (0 allows none)")
                }
                _ => None,
            };
            if let Some(problem) = problem {
                self.f.push(
                    e.value.start,
                    Code::InvalidValue,
                    format!("`metrics.{}` is {x}; it must be {problem}", e.key),
                );
            }
            out.insert(e.key.clone(), yaml::number_json(x));
        }
        out
    }

    pub(super) fn compliance(&mut self, node: &Node) -> Option<Compliance> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "compliance",
                "a mapping (risk_tier, intended_use, ...)",
            );
            return None;
        };
        let mut c = Compliance::default();
        for e in entries {
            match e.key.as_str() {
                "risk_tier" => match e.value.as_str().and_then(RiskTier::parse) {
                    Some(t) => c.risk_tier = Some(t),
                    None => self.enum_error(&e.value, "`compliance.risk_tier`", RiskTier::NAMES),
                },
                "decision_role" => {
                    if !e
                        .value
                        .as_str()
                        .is_some_and(|r| DECISION_ROLES.contains(&r))
                    {
                        self.enum_error(&e.value, "`compliance.decision_role`", DECISION_ROLES);
                    }
                }
                "content_capture" => {
                    if !e
                        .value
                        .as_str()
                        .is_some_and(|c| super::CONTENT_CAPTURES.contains(&c))
                    {
                        self.enum_error(
                            &e.value,
                            "`compliance.content_capture`",
                            super::CONTENT_CAPTURES,
                        );
                    }
                }
                "customer_facing" => {
                    if !matches!(e.value.value, Value::Bool(_)) {
                        self.wrong_type(&e.value, "compliance.customer_facing", "true or false");
                    }
                }
                "data_sources" | "regulatory_tags" => {
                    let _ = self.string_list(e);
                }
                k if COMPLIANCE_FIELDS.contains(&k) => {
                    if !matches!(e.value.value, Value::Str(_) | Value::Null) {
                        self.wrong_type(&e.value, &format!("compliance.{k}"), "text");
                    }
                }
                _ => self.unknown_key(e, COMPLIANCE_FIELDS, "compliance field"),
            }
            c.fields.insert(e.key.clone(), yaml::to_json(&e.value));
        }
        if c.risk_tier.is_none() && node.get("risk_tier").is_none() {
            self.f.push_hint(
                node.start,
                Code::MissingField,
                "`compliance` has no `risk_tier`",
                "add `risk_tier: low|medium|high`; the fields required depend on it",
            );
        }
        Some(c)
    }
}
