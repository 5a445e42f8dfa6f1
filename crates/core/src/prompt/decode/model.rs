//! The model binding: `provider:model`, or `{provider, name, params, compatibility}`.

use super::*;

impl Decoder<'_> {
    pub(super) fn model(&mut self, node: &Node) -> Option<ModelBinding> {
        match &node.value {
            Value::Str(s) => self.model_from_text(node, s),
            Value::Map(entries) => {
                let mut binding = ModelBinding {
                    provider: None,
                    name: String::new(),
                    params: BTreeMap::new(),
                    compatibility: BTreeMap::new(),
                    extra: BTreeMap::new(),
                };
                for e in entries {
                    match e.key.as_str() {
                        "provider" => binding.provider = self.string(e),
                        "name" => binding.name = self.string(e).unwrap_or_default(),
                        "params" => binding.params = self.model_params(&e.value),
                        "compatibility" => binding.compatibility = self.compatibility(&e.value),
                        _ => {
                            self.unknown_key(e, MODEL_FIELDS, "model field");
                            binding.extra.insert(e.key.clone(), yaml::to_json(&e.value));
                        }
                    }
                }
                if binding
                    .provider
                    .as_deref()
                    .is_some_and(|p| p.trim().is_empty())
                {
                    self.f.push_hint(
                        node.get("provider").map_or(node.start, |e| e.value.start),
                        Code::BadModel,
                        "`provider` is empty",
                        "name the provider (`openai`, `anthropic`, ...) or remove the key",
                    );
                }
                if binding.name.trim().is_empty() {
                    self.f.push_hint(
                        node.start,
                        Code::BadModel,
                        "the model mapping has no `name`",
                        "add `name: <model>` (and `provider: <provider>`)",
                    );
                }
                Some(binding)
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadModel,
                    format!("`model` must be `provider:name`, `name` or a mapping, found {}", node.kind_name()),
                    "e.g. `model: anthropic:claude-3-5-sonnet` or `model: {provider: openai, name: gpt-4o, params: {temperature: 0}}`",
                );
                None
            }
        }
    }

    pub(super) fn model_from_text(&mut self, node: &Node, text: &str) -> Option<ModelBinding> {
        let text = text.trim();
        let (provider, name) = match text.split_once(':') {
            Some((p, n)) => (Some(p.to_owned()), n.to_owned()),
            None => (None, text.to_owned()),
        };
        if name.is_empty() || provider.as_deref() == Some("") || text.contains(char::is_whitespace)
        {
            self.f.push_hint(
                node.start,
                Code::BadModel,
                format!("`{text}` is not a model: expected `provider:name` or `name`"),
                "e.g. `openai:gpt-4o-mini` or `claude-3-5-sonnet`",
            );
            return None;
        }
        Some(ModelBinding {
            provider,
            name,
            params: BTreeMap::new(),
            compatibility: BTreeMap::new(),
            extra: BTreeMap::new(),
        })
    }

    pub(super) fn model_params(&mut self, node: &Node) -> BTreeMap<String, Json> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "model.params",
                "a mapping (temperature, max_tokens, ...)",
            );
            return BTreeMap::new();
        };
        for e in entries {
            let range = match e.key.as_str() {
                "temperature" => Some((0.0, 2.0)),
                "top_p" => Some((0.0, 1.0)),
                "presence_penalty" | "frequency_penalty" => Some((-2.0, 2.0)),
                _ => None,
            };
            if let Some((lo, hi)) = range {
                match e.value.as_f64() {
                    Some(x) if (lo..=hi).contains(&x) => {}
                    Some(x) => self.f.push(
                        e.value.start,
                        Code::InvalidValue,
                        format!("`{}` is {x}, outside {lo}..={hi}", e.key),
                    ),
                    None => self.wrong_type(&e.value, &e.key, "a number"),
                }
            }
            if e.key == "max_tokens" {
                match e.value.value {
                    Value::Int(n) if n > 0 => {}
                    Value::Float(f) if f > 0.0 && f.fract() == 0.0 => {}
                    Value::Int(_) | Value::Float(_) => self.f.push(
                        e.value.start,
                        Code::InvalidValue,
                        "`max_tokens` must be a positive whole number",
                    ),
                    _ => self.wrong_type(&e.value, "max_tokens", "a positive integer"),
                }
            }
        }
        entries
            .iter()
            .map(|e| (e.key.clone(), yaml::to_json(&e.value)))
            .collect()
    }

    pub(super) fn compatibility(&mut self, node: &Node) -> BTreeMap<String, Compatibility> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(
                node,
                "model.compatibility",
                "a mapping of `provider:model: works|needs-tuning|not-supported`",
            );
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for e in entries {
            let parsed = e.value.as_str().and_then(Compatibility::parse);
            match parsed {
                Some(c) => {
                    out.insert(e.key.clone(), c);
                }
                None => self.enum_error(
                    &e.value,
                    &format!("compatibility of `{}`", e.key),
                    Compatibility::NAMES,
                ),
            }
        }
        out
    }
}
