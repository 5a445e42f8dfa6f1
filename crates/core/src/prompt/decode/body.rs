//! What a prompt says: its `template` or chat `messages`, and the `variables` they read.

use super::*;

impl Decoder<'_> {
    pub(super) fn body(&mut self, template: Option<&Entry>, messages: Option<&Entry>) -> Body {
        match (template, messages) {
            (Some(t), Some(m)) => {
                let later = if t.key_pos > m.key_pos { t } else { m };
                self.f.push_hint(
                    later.key_pos,
                    Code::TemplateOrMessages,
                    "both `template` and `messages` are set",
                    "a prompt is either a text `template` or chat `messages`; remove one",
                );
                Body::Template(String::new())
            }
            (None, None) => {
                self.f.push_hint(
                    self.root_pos,
                    Code::TemplateOrMessages,
                    "the prompt has neither `template` nor `messages`",
                    "add `template: |` with the prompt text, or `messages:` with a list of `{role, content}`",
                );
                Body::Template(String::new())
            }
            (Some(t), None) => {
                let text = self.string(t).unwrap_or_default();
                if text.trim().is_empty() && t.value.as_str().is_some() {
                    self.f.push(
                        t.value.start,
                        Code::TemplateOrMessages,
                        "`template` is empty",
                    );
                }
                Body::Template(text)
            }
            (None, Some(m)) => Body::Messages(self.messages(&m.value)),
        }
    }

    pub(super) fn messages(&mut self, node: &Node) -> Vec<Message> {
        let Some(items) = node.as_seq() else {
            self.f.push_hint(
                node.start,
                Code::BadMessage,
                format!("`messages` must be a list, found {}", node.kind_name()),
                "write `messages:` followed by items like `- role: user` / `  content: ...`",
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.f
                .push(node.start, Code::TemplateOrMessages, "`messages` is empty");
        }
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(entries) = item.as_map() else {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!(
                        "messages[{i}] must be a mapping with `role` and `content`, found {}",
                        item.kind_name()
                    ),
                );
                continue;
            };
            let mut role = None;
            let mut content = None;
            let mut name = None;
            let mut extra = BTreeMap::new();
            for e in entries {
                match e.key.as_str() {
                    "role" => match e.value.as_str() {
                        Some(r) => match Role::parse(r) {
                            Some(parsed) => role = Some(parsed),
                            None => {
                                let hint = did_you_mean(r, Role::NAMES.iter().copied())
                                    .map_or_else(
                                        || "use system, user or assistant".to_owned(),
                                        |n| format!("did you mean `{n}`?"),
                                    );
                                self.f.push_hint(
                                    e.value.start,
                                    Code::BadMessage,
                                    format!("messages[{i}]: role `{r}` is not one of system, user, assistant"),
                                    hint,
                                );
                            }
                        },
                        None => self.f.push(
                            e.value.start,
                            Code::BadMessage,
                            format!(
                                "messages[{i}]: `role` must be a string, found {}",
                                e.value.kind_name()
                            ),
                        ),
                    },
                    "content" => match e.value.as_str() {
                        Some(c) => content = Some(c.to_owned()),
                        None => self.f.push(
                            e.value.start,
                            Code::BadMessage,
                            format!(
                                "messages[{i}]: `content` must be text, found {}",
                                e.value.kind_name()
                            ),
                        ),
                    },
                    "name" => name = self.string(e),
                    _ => {
                        self.unknown_key(e, MESSAGE_FIELDS, "message field");
                        extra.insert(e.key.clone(), yaml::to_json(&e.value));
                    }
                }
            }
            let has_role_key = entries.iter().any(|e| e.key == "role");
            let has_content_key = entries.iter().any(|e| e.key == "content");
            if !has_role_key {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!("messages[{i}] has no `role`"),
                );
            }
            if !has_content_key {
                self.f.push(
                    item.start,
                    Code::BadMessage,
                    format!("messages[{i}] has no `content`"),
                );
            }
            if let (Some(role), Some(content)) = (role, content) {
                out.push(Message {
                    role,
                    content,
                    name,
                    extra,
                });
            }
        }
        out
    }

    pub(super) fn variables(&mut self, node: &Node) -> Option<BTreeMap<String, Variable>> {
        let mut out = BTreeMap::new();
        match &node.value {
            Value::Null => {}
            // Shorthand: `variables: [user, question]` declares required strings.
            Value::Seq(items) => {
                for item in items {
                    match item.as_str() {
                        Some(name) => {
                            self.variable_name(item.start, name);
                            out.insert(name.to_owned(), plain_variable(VarType::String));
                        }
                        None => self.f.push(
                            item.start,
                            Code::BadVariable,
                            format!(
                                "a variable name must be a string, found {}",
                                item.kind_name()
                            ),
                        ),
                    }
                }
            }
            Value::Map(entries) => {
                for e in entries {
                    self.variable_name(e.key_pos, &e.key);
                    if let Some(v) = self.variable_spec(&e.key, &e.value) {
                        out.insert(e.key.clone(), v);
                    }
                }
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadVariable,
                    format!("`variables` must be a mapping, found {}", node.kind_name()),
                    "write `variables:` then `  user: {type: string, required: true}`",
                );
                return None;
            }
        }
        Some(out)
    }

    pub(super) fn variable_name(&mut self, pos: Pos, name: &str) {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.f.push_hint(
                pos,
                Code::BadVariable,
                format!("`{name}` is not a valid variable name"),
                "templates can only refer to names of letters, digits and `_` that do not start with a digit",
            );
        }
    }

    pub(super) fn variable_spec(&mut self, name: &str, node: &Node) -> Option<Variable> {
        match &node.value {
            Value::Null => Some(plain_variable(VarType::String)),
            // Shorthand: `user: string`.
            Value::Str(t) => match VarType::parse(t) {
                Some(ty) => Some(plain_variable(ty)),
                None => {
                    self.enum_error(
                        node,
                        &format!("the type of variable `{name}`"),
                        VarType::NAMES,
                    );
                    None
                }
            },
            Value::Map(entries) => {
                let mut ty = VarType::String;
                let mut required = None;
                let mut default = None;
                let mut description = None;
                let mut extra = BTreeMap::new();
                for e in entries {
                    match e.key.as_str() {
                        "type" => match e.value.as_str().and_then(VarType::parse) {
                            Some(t) => ty = t,
                            None => self.enum_error(
                                &e.value,
                                &format!("the type of variable `{name}`"),
                                VarType::NAMES,
                            ),
                        },
                        "required" => match e.value.value {
                            Value::Bool(b) => required = Some((b, e.key_pos)),
                            _ => self.wrong_type(&e.value, "required", "true or false"),
                        },
                        "default" => default = Some((yaml::to_json(&e.value), e.value.start)),
                        "description" => description = self.string(e),
                        _ => {
                            self.unknown_key(e, VARIABLE_FIELDS, "variable field");
                            extra.insert(e.key.clone(), yaml::to_json(&e.value));
                        }
                    }
                }
                if let Some((value, pos)) = &default
                    && !ty.accepts(value)
                {
                    self.f.push_hint(
                        *pos,
                        Code::BadVariable,
                        format!("the default of `{name}` is not a {ty}"),
                        format!("give a {ty} default, or change `type`"),
                    );
                }
                if let (Some((true, pos)), Some(_)) = (required, &default) {
                    self.f.push_hint(
                        pos,
                        Code::RequiredWithDefault,
                        format!("`{name}` is marked required but has a default, so it can never be missing"),
                        "drop `required: true` (a variable with a default is optional), or drop the default to make callers pass it",
                    );
                }
                Some(Variable {
                    ty,
                    required: required.map_or(default.is_none(), |(b, _)| b),
                    default: default.map(|(v, _)| v),
                    description,
                    extra,
                })
            }
            _ => {
                self.f.push_hint(
                    node.start,
                    Code::BadVariable,
                    format!(
                        "variable `{name}` must be a mapping or a type name, found {}",
                        node.kind_name()
                    ),
                    "e.g. `user: {type: string, required: true, description: ...}`",
                );
                None
            }
        }
    }
}

fn plain_variable(ty: VarType) -> Variable {
    Variable {
        ty,
        required: true,
        default: None,
        description: None,
        extra: BTreeMap::new(),
    }
}
