//! Reading each gate: evals, budgets, approvals, compliance, requirements, completion.

use super::*;

impl Reader<'_> {
    pub(super) fn evals(&mut self, node: &Node, what: &str) -> Option<EvalsGate> {
        match &node.value {
            Value::Bool(true) => Some(EvalsGate::default()),
            Value::Bool(false) => None,
            Value::Map(entries) => {
                let mut gate = EvalsGate::default();
                for e in entries {
                    match e.key.as_str() {
                        "min_pass_rate" if e.value.is_null() => {}
                        "min_pass_rate" => {
                            if let Some(t) =
                                self.threshold(&e.value, &format!("{what}.min_pass_rate"))
                            {
                                gate.min_pass_rate = t;
                            }
                        }
                        "attached_by" => {
                            if let Some(a) =
                                self.attached_by(&e.value, &format!("{what}.attached_by"))
                            {
                                gate.attached_by = a;
                            }
                        }
                        _ => self.unknown_key(e, EVALS_KEYS, "`evals` key"),
                    }
                }
                Some(gate)
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a mapping or `true`",
                    "e.g. `evals: {min_pass_rate: 0.95}`, or `evals: {}` for the prompt's baseline",
                );
                None
            }
        }
    }

    pub(super) fn attached_by(&mut self, node: &Node, what: &str) -> Option<AttachedBy> {
        let Some(text) = node.as_str() else {
            self.wrong_type(
                node,
                what,
                "one of `anyone`, `ci`, `not-author`",
                "e.g. `attached_by: ci` (runs attached with a key made by `promptops key create --ci`)",
            );
            return None;
        };
        let parsed = AttachedBy::parse(text);
        if parsed.is_none() {
            let hint = match did_you_mean(text, AttachedBy::NAMES) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "use `anyone`, `ci` (a CI key) or `not-author` (anyone but the version's author)".to_owned(),
            };
            self.invalid(
                node.start,
                format!("`{what}` is `{text}`, not one of anyone, ci, not-author"),
                hint,
            );
        }
        parsed
    }

    pub(super) fn threshold(&mut self, node: &Node, what: &str) -> Option<Threshold> {
        match &node.value {
            Value::Str(s) if s == "baseline" => Some(Threshold::Baseline),
            Value::Str(s) => {
                let hint = match did_you_mean(s, ["baseline"]) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "write a fraction such as `0.95` (unquoted), or `baseline` for the prompt's metrics.baseline_accuracy".to_owned(),
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is `{s}`, not a number from 0 to 1 or `baseline`"),
                    hint,
                );
                None
            }
            Value::Int(_) | Value::Float(_) => {
                let x = node.as_f64()?;
                if (0.0..=1.0).contains(&x) {
                    return Some(Threshold::Fixed(x));
                }
                let hint = if x > 1.0 && x <= 100.0 {
                    format!("a pass rate is a fraction: write `{}` for {x}%", x / 100.0)
                } else {
                    "write a fraction from 0 to 1, e.g. `0.95`".to_owned()
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is {}, outside 0..=1", node.raw()),
                    hint,
                );
                None
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a number from 0 to 1 or `baseline`",
                    "e.g. `min_pass_rate: 0.95`",
                );
                None
            }
        }
    }

    pub(super) fn budget(&mut self, node: &Node, what: &str) -> Option<Budget> {
        match &node.value {
            Value::Str(s) if s == "prompt" => Some(Budget::Prompt),
            Value::Str(s) => {
                let hint = match did_you_mean(s, ["prompt"]) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "write a number (unquoted), or `prompt` for the prompt's own metric"
                        .to_owned(),
                };
                self.invalid(
                    node.start,
                    format!("`{what}` is `{s}`, not a number or `prompt`"),
                    hint,
                );
                None
            }
            Value::Int(_) | Value::Float(_) => {
                let x = node.as_f64()?;
                if x.is_finite() && x >= 0.0 {
                    return Some(Budget::Fixed(x));
                }
                self.invalid(
                    node.start,
                    format!(
                        "`{what}` is {}: a budget must be a finite number, 0 or more",
                        node.raw()
                    ),
                    "remove the budget to set none",
                );
                None
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a number or `prompt`",
                    "e.g. `max_cost_per_call_usd: 0.01`",
                );
                None
            }
        }
    }

    pub(super) fn approvals(&mut self, node: &Node, what: &str) -> Vec<ApprovalRequirement> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(
                node,
                what,
                "a list of requirements",
                "e.g. `approvals: [{count: 2, roles: [approver, admin]}]`",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let what = format!("{what}[{i}]");
            let Some(entries) = item.as_map() else {
                self.wrong_type(
                    item,
                    &what,
                    "a mapping",
                    "e.g. `- count: 1` with optional `roles: [approver, admin]` and `teams: [security]`",
                );
                continue;
            };
            let mut req = ApprovalRequirement::default();
            for e in entries {
                let field = format!("{what}.{}", e.key);
                match e.key.as_str() {
                    key if APPROVAL_KEYS.contains(&key) && e.value.is_null() => {}
                    "count" => {
                        if let Some(n) = self.count(&e.value, &field) {
                            req.count = n;
                        }
                    }
                    "roles" => {
                        let roles = self.roles(&e.value, &field);
                        if !roles.is_empty() {
                            req.roles = roles;
                        }
                    }
                    "teams" => {
                        req.teams = self
                            .strings(&e.value, &field)
                            .into_iter()
                            .filter_map(|(team, at)| self.non_empty(team, at, "a team name"))
                            .collect();
                    }
                    _ => self.unknown_key(e, APPROVAL_KEYS, "approvals key"),
                }
            }
            out.push(req);
        }
        out
    }

    pub(super) fn count(&mut self, node: &Node, what: &str) -> Option<u32> {
        match node.value {
            Value::Int(n) => match u32::try_from(n) {
                Ok(n) if (1..=MAX_APPROVALS).contains(&n) => Some(n),
                _ => {
                    self.invalid(
                        node.start,
                        format!("`{what}` is {n}, outside 1..={MAX_APPROVALS}"),
                        "remove the requirement to need no approval",
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(node, what, "a whole number", "e.g. `count: 2`");
                None
            }
        }
    }

    pub(super) fn roles(&mut self, node: &Node, what: &str) -> Vec<Role> {
        let items = self.strings(node, what);
        if items.is_empty() && node.as_seq().is_some() {
            self.invalid(
                node.start,
                format!("`{what}` is empty: no approval could count"),
                "remove `roles` to count approvers and admins",
            );
        }
        let mut roles = Vec::new();
        for (name, at) in items {
            match Role::parse(&name) {
                Some(role @ (Role::Approver | Role::Admin)) => {
                    if !roles.contains(&role) {
                        roles.push(role);
                    }
                }
                Some(role) => self.invalid(
                    at,
                    format!("the role `{role}` cannot approve, so it cannot count toward `{what}`"),
                    "use approver or admin",
                ),
                None => {
                    let hint = match did_you_mean(&name, Role::NAMES.iter().copied()) {
                        Some(near) => format!("did you mean `{near}`?"),
                        None => "use approver or admin".to_owned(),
                    };
                    self.invalid(
                        at,
                        format!(
                            "`{name}` is not a role that can approve ({})",
                            APPROVING_ROLES.join(", ")
                        ),
                        hint,
                    );
                }
            }
        }
        roles
    }

    pub(super) fn compliance(&mut self, node: &Node, what: &str) -> Option<ComplianceGate> {
        match &node.value {
            Value::Bool(true) => Some(ComplianceGate::Defaults),
            Value::Bool(false) => None,
            Value::Map(entries) => {
                let mut tiers = BTreeMap::new();
                for e in entries {
                    let Some(tier) = RiskTier::parse(&e.key) else {
                        let hint = match did_you_mean(&e.key, RiskTier::NAMES.iter().copied()) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => "use low, medium or high".to_owned(),
                        };
                        self.invalid(
                            e.key_pos,
                            format!("`{}` is not a risk tier (low, medium, high)", e.key),
                            hint,
                        );
                        continue;
                    };
                    let mut fields: Vec<String> = Vec::new();
                    if !e.value.is_null() {
                        for (field, at) in self.strings(&e.value, &format!("{what}.{}", e.key)) {
                            if !COMPLIANCE_FIELDS.contains(&field.as_str()) {
                                let hint =
                                    match did_you_mean(&field, COMPLIANCE_FIELDS.iter().copied()) {
                                        Some(near) => format!("did you mean `{near}`?"),
                                        None => format!(
                                            "known fields: {}",
                                            COMPLIANCE_FIELDS.join(", ")
                                        ),
                                    };
                                self.invalid(
                                    at,
                                    format!("`{field}` is not a compliance field"),
                                    hint,
                                );
                            } else if !fields.contains(&field) {
                                fields.push(field);
                            }
                        }
                    }
                    tiers.insert(tier, fields);
                }
                Some(ComplianceGate::Tiers(tiers))
            }
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "`true` or a mapping of risk tiers to fields",
                    "e.g. `compliance: true` (the project's defaults) or `compliance: {high: [human_oversight]}`",
                );
                None
            }
        }
    }

    pub(super) fn requirements(&mut self, node: &Node, what: &str) -> Vec<Requirement> {
        let Some(items) = node.as_seq() else {
            self.wrong_type(
                node,
                what,
                "a list",
                "e.g. `require: [{expr: 'not deprecated', message: deprecated prompts cannot be promoted}]`",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let what = format!("{what}[{i}]");
            match &item.value {
                Value::Str(_) => {
                    if let Some(expr) = self.expression(item, &what) {
                        out.push(Requirement {
                            message: default_message(&expr),
                            expr,
                        });
                    }
                }
                Value::Map(entries) => {
                    let mut expr = None;
                    let mut message = None;
                    for e in entries {
                        match e.key.as_str() {
                            "expr" => expr = self.expression(&e.value, &format!("{what}.expr")),
                            "message" if e.value.is_null() => {}
                            "message" => message = self.string(&e.value, &format!("{what}.message")),
                            _ => self.unknown_key(e, REQUIRE_KEYS, "requirement key"),
                        }
                    }
                    if !entries.iter().any(|e| e.key == "expr") {
                        self.f.push_hint(
                            item.start,
                            Code::MissingField,
                            format!("{what} has no `expr`"),
                            "add `expr: '<expression>'` that must hold, e.g. `expr: 'not deprecated'`",
                        );
                    }
                    if let Some(expr) = expr {
                        let message = message
                            .filter(|m| !m.trim().is_empty())
                            .unwrap_or_else(|| default_message(&expr));
                        out.push(Requirement { expr, message });
                    }
                }
                _ => self.wrong_type(
                    item,
                    &what,
                    "an expression or a mapping with `expr` and `message`",
                    "e.g. `- expr: 'not deprecated'` / `  message: deprecated prompts cannot be promoted`",
                ),
            }
        }
        out
    }

    /// A string that compiles as an expression.
    pub(super) fn expression(&mut self, node: &Node, what: &str) -> Option<String> {
        let Some(source) = node.as_str() else {
            let hint = if node.value == Value::Bool(true) || node.value == Value::Bool(false) {
                format!("quote it: `'{}'`", node.raw())
            } else {
                EXPR_HINT.to_owned()
            };
            self.wrong_type(node, what, "an expression (a string)", &hint);
            return None;
        };
        match expr::check(source) {
            Ok(()) => Some(source.to_owned()),
            Err(problem) => {
                self.invalid(
                    node.start,
                    format!("`{what}` is not a valid expression: {problem}"),
                    EXPR_HINT,
                );
                None
            }
        }
    }

    pub(super) fn completion(&mut self, node: &Node) -> Option<Completion> {
        let Some(s) = node.as_str() else {
            self.wrong_type(
                node,
                "completion",
                "`auto` or `requester`",
                "e.g. `completion: auto`",
            );
            return None;
        };
        let parsed = Completion::parse(s);
        if parsed.is_none() {
            let hint = match did_you_mean(s, Completion::NAMES.iter().copied()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => "use `auto` (the label moves when the last gate holds) or `requester` (the requester completes it)".to_owned(),
            };
            self.invalid(
                node.start,
                format!("`completion` is `{s}`, not auto or requester"),
                hint,
            );
        }
        parsed
    }
}
