//! A YAML document as a tree that remembers where every key and value stands.
//!
//! Validation needs the line and column of each key and value, duplicate-key detection
//! and all findings at once, which a serde deserializer does not give. This module turns
//! the events of `granit-parser` into a small tree, resolving plain scalars with the YAML
//! 1.2 core schema, and bounds the work a hostile file can cause (nesting is limited by
//! the parser, alias expansion here: see [`Limits`]).

use crate::diagnostic::{Code, Findings, Pos};
use granit_parser::{Event, Marker, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// What a document may expand to. Content is measured in bytes: the text of every
/// scalar and key plus [`NODE_BYTES`] per node, which is about what it costs in memory
/// and in the canonical JSON a registry stores.
///
/// Without aliases a document produces no more than a small multiple of its own size,
/// so only what aliases repeat is bounded relative to the input: a YAML bomb (a string
/// anchored once and aliased thousands of times, or nested aliases) is refused at the
/// alias that crosses the bound, before it is copied, while any legitimate document —
/// however large, with aliases used for reuse — passes. `max_bytes` is an absolute cap
/// on the whole document's content, for callers that store what they parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Aliases may repeat at most this many times the document's own size...
    pub alias_ratio: usize,
    /// ...or this many bytes, whichever is more (small files may reuse freely).
    pub alias_floor: usize,
    /// The most content the whole document may produce (`None`: no absolute cap).
    pub max_bytes: Option<usize>,
}

/// The measure of one node besides its text (a key, a list item, a value).
pub const NODE_BYTES: usize = 8;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            alias_ratio: 10,
            alias_floor: 1024 * 1024,
            max_bytes: None,
        }
    }
}

impl Limits {
    /// The bytes aliases may add to a document of `source_len` bytes.
    pub fn alias_budget(&self, source_len: usize) -> usize {
        source_len
            .saturating_mul(self.alias_ratio)
            .max(self.alias_floor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
    Collection,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    /// Where the node starts (for a block scalar: its `|` or `>` indicator).
    pub start: Pos,
    pub end: Pos,
    pub style: Style,
    /// The text of a non-string scalar as written (`2.1`, `true`), before type
    /// resolution; strings are not stored twice (see [`Node::raw`]).
    scalar_text: Box<str>,
}

impl Node {
    /// The scalar as written, before type resolution (empty for collections).
    pub fn raw(&self) -> &str {
        match &self.value {
            Value::Str(s) => s,
            _ => &self.scalar_text,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key == key)
    }

    /// "a string", "a list", ... for messages like "expected a string, found a list".
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The position of byte `offset` inside this scalar's value, mapped back into the file.
    ///
    /// Exact for literal blocks (`|`) and single-line scalars; for folded or multi-line
    /// flow scalars, where folding loses the line structure, it is the value's start.
    pub fn pos_in_value(&self, offset: usize) -> Pos {
        let text = match &self.value {
            Value::Str(s) => s.as_str(),
            _ => return self.start,
        };
        let offset = floor_char_boundary(text, offset);
        let before = &text[..offset];
        let line_in_value = before.matches('\n').count() as u32;
        let col_in_line = before
            .rsplit('\n')
            .next()
            .map_or(0, |l| l.chars().count() as u32);
        let single_line = self.start.line == self.end.line;
        match self.style {
            // The parser's span of a block scalar starts at its first non-blank content
            // line, at the block's indentation; leading blank lines are part of the text.
            Style::Literal => {
                let leading_blank_lines = text.len() - text.trim_start_matches('\n').len();
                let first_line = self.start.line.saturating_sub(leading_blank_lines as u32);
                Pos::new(first_line + line_in_value, self.start.column + col_in_line)
            }
            Style::Plain if single_line => {
                Pos::new(self.start.line, self.start.column + col_in_line)
            }
            Style::SingleQuoted | Style::DoubleQuoted if single_line => {
                Pos::new(self.start.line, self.start.column + 1 + col_in_line)
            }
            _ => self.start,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn pos_of(m: &Marker) -> Pos {
    Pos::new(m.line() as u32, m.col() as u32 + 1)
}

/// Parses `source` as one YAML document within the default [`Limits`]. Problems go to
/// `findings`; the tree is `None` when there is no usable document (syntax error,
/// empty stream, over the limits).
pub fn parse(source: &str, findings: &mut Findings) -> Option<Node> {
    parse_within(source, &Limits::default(), findings)
}

/// [`parse`] within `limits`.
pub fn parse_within(source: &str, limits: &Limits, findings: &mut Findings) -> Option<Node> {
    let mut builder = Builder {
        alias_budget: limits.alias_budget(source.len()),
        alias_ratio: limits.alias_ratio,
        source_len: source.len(),
        max_bytes: limits.max_bytes,
        ..Builder::default()
    };
    let mut parser = Parser::new_from_str(source);
    let mut documents = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok(pair) => pair,
            Err(e) => {
                findings.push_hint(
                    pos_of(e.marker()),
                    Code::YamlSyntax,
                    format!("YAML syntax error: {}", e.info()),
                    "check indentation and quoting on this line and the one before; strings that contain `: ` or start with `{`, `[`, `*`, `&`, `!` or `%` need quotes",
                );
                return None;
            }
        };
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart(..) => {
                documents += 1;
                if documents == 2 {
                    findings.push_hint(
                        pos_of(&span.start),
                        Code::NotAMapping,
                        "a second YAML document (`---`) in this file",
                        "keep one prompt per file; move the second document into its own file",
                    );
                }
            }
            other => {
                if documents > 1 {
                    continue;
                }
                if let Err(refusal) = builder.event(other, span, findings) {
                    findings.push_hint(
                        pos_of(&span.start),
                        Code::YamlSyntax,
                        refusal.message,
                        refusal.hint,
                    );
                    return None;
                }
            }
        }
    }
    builder.root
}

/// A collection being built, with the content measure of what it holds so far.
enum Frame {
    Seq {
        items: Vec<Node>,
        start: Pos,
        anchor: usize,
        bytes: usize,
    },
    Map {
        entries: Vec<Entry>,
        start: Pos,
        anchor: usize,
        bytes: usize,
        pending_key: Option<(String, Pos)>,
        seen: HashMap<String, Pos>,
    },
}

/// Why the builder stopped: a structural error or a limit.
struct Refusal {
    message: String,
    hint: &'static str,
}

impl From<&str> for Refusal {
    fn from(message: &str) -> Refusal {
        Refusal {
            message: message.to_owned(),
            hint: "check the YAML around this line",
        }
    }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Anchored nodes with their content measure, so an alias is priced before it is copied.
    anchors: HashMap<usize, (Node, usize)>,
    /// Content produced so far, aliases included.
    bytes: usize,
    /// Content produced by aliases so far.
    alias_bytes: usize,
    alias_budget: usize,
    alias_ratio: usize,
    source_len: usize,
    max_bytes: Option<usize>,
    root: Option<Node>,
}

impl Builder {
    fn event(
        &mut self,
        event: Event<'_>,
        span: Span,
        findings: &mut Findings,
    ) -> Result<(), Refusal> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let forced_string = tag.as_ref().and_then(|t| t.core_suffix()) == Some("str");
                let node = scalar_node(&text, style, forced_string, &span);
                let bytes = NODE_BYTES + text.len();
                self.produce(bytes)?;
                self.remember(anchor, &node, bytes);
                self.finish(node, bytes, findings);
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                start: pos_of(&span.start),
                anchor,
                bytes: NODE_BYTES,
            }),
            Event::MappingStart(_, anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                start: pos_of(&span.start),
                anchor,
                bytes: NODE_BYTES,
                pending_key: None,
                seen: HashMap::new(),
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let end = pos_of(&span.end);
                let (node, anchor, bytes) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        start,
                        anchor,
                        bytes,
                    }) => (collection(Value::Seq(items), start, end), anchor, bytes),
                    Some(Frame::Map {
                        entries,
                        start,
                        anchor,
                        bytes,
                        ..
                    }) => (collection(Value::Map(entries), start, end), anchor, bytes),
                    None => return Err("unbalanced YAML collection".into()),
                };
                self.produce(NODE_BYTES)?;
                self.remember(anchor, &node, bytes);
                self.finish(node, bytes, findings);
            }
            Event::Alias(id) => {
                let Some(bytes) = self.anchors.get(&id).map(|(_, bytes)| *bytes) else {
                    return Err("alias refers to an unknown anchor".into());
                };
                // Priced before it is copied: a bomb stops here, not after filling memory.
                self.alias_bytes = self.alias_bytes.saturating_add(bytes);
                if self.alias_bytes > self.alias_budget {
                    return Err(Refusal {
                        message: format!(
                            "aliases here repeat more than {} of content, over {}× the document's own {} (a YAML alias bomb?)",
                            show_bytes(self.alias_budget),
                            self.alias_ratio,
                            show_bytes(self.source_len)
                        ),
                        hint: "write the repeated content out, or repeat it fewer times; aliases are for reuse, not multiplication",
                    });
                }
                self.produce(bytes)?;
                let Some(mut node) = self.anchors.get(&id).map(|(node, _)| node.clone()) else {
                    return Err("alias refers to an unknown anchor".into());
                };
                node.start = pos_of(&span.start);
                node.end = pos_of(&span.end);
                self.finish(node, bytes, findings);
            }
            _ => {}
        }
        Ok(())
    }

    /// Counts `bytes` of content against the absolute cap.
    fn produce(&mut self, bytes: usize) -> Result<(), Refusal> {
        self.bytes = self.bytes.saturating_add(bytes);
        match self.max_bytes {
            Some(max) if self.bytes > max => Err(Refusal {
                message: format!(
                    "the document's content exceeds {}, the most this registry keeps in one version",
                    show_bytes(max)
                ),
                hint: "make the prompt smaller (move long reference text out of it), or raise `max_version_bytes` (promptops.toml `[validate]`, the server's PROMPTOPS_MAX_VERSION_BYTES)",
            }),
            _ => Ok(()),
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node, bytes: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), bytes));
        }
    }

    /// Attaches a completed node (measuring `bytes`) to its parent, as a key, a value
    /// or an item.
    fn finish(&mut self, node: Node, bytes: usize, findings: &mut Findings) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq {
                items, bytes: held, ..
            }) => {
                *held = held.saturating_add(bytes);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                pending_key,
                seen,
                bytes: held,
                ..
            }) => {
                *held = held.saturating_add(bytes);
                match pending_key.take() {
                    None => {
                        let key = match &node.value {
                            Value::Str(s) => s.clone(),
                            Value::Seq(_) | Value::Map(_) => {
                                findings.push(
                                    node.start,
                                    Code::YamlSyntax,
                                    "a list or mapping used as a mapping key",
                                );
                                String::new()
                            }
                            _ => node.raw().to_owned(),
                        };
                        *pending_key = Some((key, node.start));
                    }
                    Some((key, key_pos)) => {
                        if let Some(first) = seen.get(&key) {
                            findings.push_hint(
                            key_pos,
                            Code::DuplicateKey,
                            format!("duplicate key `{key}` (first defined at line {})", first.line),
                            "remove one of the two; YAML loaders silently keep only one of them",
                        );
                            entries.retain(|e| e.key != key);
                        } else {
                            seen.insert(key.clone(), key_pos);
                        }
                        entries.push(Entry {
                            key,
                            key_pos,
                            value: node,
                        });
                    }
                }
            }
        }
    }
}

fn collection(value: Value, start: Pos, end: Pos) -> Node {
    Node {
        value,
        start,
        end,
        style: Style::Collection,
        scalar_text: Box::default(),
    }
}

/// `1.2 MB`, `512 KB`, `90 B`: sizes in refusals.
fn show_bytes(n: usize) -> String {
    match n {
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{} KB", n / 1_000),
        n => format!("{n} B"),
    }
}

fn scalar_node(text: &str, style: ScalarStyle, forced_string: bool, span: &Span) -> Node {
    let (value, style) = match style {
        ScalarStyle::Plain if !forced_string => (resolve_plain(text), Style::Plain),
        ScalarStyle::Plain => (Value::Str(text.to_owned()), Style::Plain),
        ScalarStyle::SingleQuoted => (Value::Str(text.to_owned()), Style::SingleQuoted),
        ScalarStyle::DoubleQuoted => (Value::Str(text.to_owned()), Style::DoubleQuoted),
        ScalarStyle::Literal => (Value::Str(text.to_owned()), Style::Literal),
        ScalarStyle::Folded => (Value::Str(text.to_owned()), Style::Folded),
    };
    let scalar_text = if matches!(value, Value::Str(_)) {
        Box::default()
    } else {
        text.into()
    };
    Node {
        value,
        start: pos_of(&span.start),
        end: pos_of(&span.end),
        style,
        scalar_text,
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => text
                .parse::<f64>()
                .map_or_else(|_| Value::Str(text.to_owned()), Value::Float),
        };
    }
    if looks_like_float(digits)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::Str(text.to_owned())
}

/// `[0-9]*(\.[0-9]*)?([eE][-+]?[0-9]+)?` with at least one digit before the exponent.
fn looks_like_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = mantissa.splitn(2, '.');
    let int_part = parts.next().unwrap_or("");
    let frac_part = parts.next();
    let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits_ok(int_part)
        && frac_part.is_none_or(digits_ok)
        && (int_part.len() + frac_part.map_or(0, str::len)) > 0
        && (frac_part.is_some() || exponent.is_some());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits_ok(e)
    });
    mantissa_ok && exponent_ok
}

/// Converts a node to JSON. Whole floats become integers, so `1.0` and `1` are the
/// same content (one of the normalisations behind the canonical hash).
pub fn to_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => number_json(*f),
        Value::Str(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}

/// Like [`to_json`], consuming the tree so strings are moved rather than copied
/// (large documents convert in about half the time and memory).
pub fn into_json(node: Node) -> serde_json::Value {
    use serde_json::Value as J;
    match node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Int(i) => J::from(i),
        Value::Float(f) => number_json(f),
        Value::Str(s) => J::String(s),
        Value::Seq(items) => J::Array(items.into_iter().map(into_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .into_iter()
                .map(|e| (e.key, into_json(e.value)))
                .collect(),
        ),
    }
}

/// A float as JSON: integral values as integers, non-finite values as strings
/// (JSON has no NaN or infinity).
pub fn number_json(f: f64) -> serde_json::Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
        serde_json::Value::from(f as i64)
    } else if f.is_finite() {
        serde_json::Value::from(f)
    } else {
        serde_json::Value::String(f.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> (Option<Node>, Vec<crate::diagnostic::Diagnostic>) {
        let mut f = Findings::new("t.yaml");
        let node = parse(src, &mut f);
        (node, f.into_vec())
    }

    #[test]
    fn resolves_core_schema_scalars() {
        let (node, diags) = parse_ok(
            "a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 2024-01-02\ng: 1e3\nh: .5\ni: 0x1F\n",
        );
        assert!(diags.is_empty());
        let node = node.unwrap();
        let v = |k: &str| node.get(k).unwrap().value.value.clone();
        assert_eq!(v("a"), Value::Int(1));
        assert_eq!(v("b"), Value::Float(1.5));
        assert_eq!(v("c"), Value::Bool(true));
        assert_eq!(v("d"), Value::Null);
        assert_eq!(v("e"), Value::Str("1".into()));
        assert_eq!(v("f"), Value::Str("2024-01-02".into()));
        assert_eq!(v("g"), Value::Float(1000.0));
        assert_eq!(v("h"), Value::Float(0.5));
        assert_eq!(v("i"), Value::Int(31));
    }

    #[test]
    fn positions_of_keys_and_values() {
        let (node, _) = parse_ok("id: a.b\nmodel:\n  name: x\n");
        let node = node.unwrap();
        let model = node.get("model").unwrap();
        assert_eq!(model.key_pos, Pos::new(2, 1));
        let name = model.value.get("name").unwrap();
        assert_eq!(name.key_pos, Pos::new(3, 3));
        assert_eq!(name.value.start, Pos::new(3, 9));
    }

    #[test]
    fn literal_block_offsets_map_to_file_lines() {
        let src = "id: a\ntemplate: |\n  hello\n  dear {{ user }}\n";
        let (node, _) = parse_ok(src);
        let node = node.unwrap();
        let t = &node.get("template").unwrap().value;
        assert_eq!(t.style, Style::Literal);
        let text = t.as_str().unwrap();
        let off = text.find("{{").unwrap();
        assert_eq!(t.pos_in_value(off), Pos::new(4, 8));
        let src2 = "template: |\n\n  hi {{ x }}\n";
        let (node, _) = parse_ok(src2);
        let node = node.unwrap();
        let t = &node.get("template").unwrap().value;
        assert_eq!(
            t.pos_in_value(t.as_str().unwrap().find("{{").unwrap()),
            Pos::new(3, 6)
        );
    }

    #[test]
    fn quoted_single_line_offsets() {
        let src = "template: \"ab {{ x }}\"\n";
        let (node, _) = parse_ok(src);
        let node = node.unwrap();
        let t = &node.get("template").unwrap().value;
        assert_eq!(t.pos_in_value(3), Pos::new(1, 15));
    }

    #[test]
    fn duplicate_keys_are_reported_at_the_second() {
        let (_, diags) = parse_ok("a: 1\nb: 2\na: 3\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::DuplicateKey);
        assert_eq!((diags[0].line, diags[0].column), (3, 1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let (node, diags) = parse_ok("a: 1\nb: [1, 2\nc: 3\n");
        assert!(node.is_none());
        assert_eq!(diags[0].code, Code::YamlSyntax);
        assert!(diags[0].line >= 2);
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            src.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        let (node, diags) = parse_ok(&src);
        assert!(node.is_none());
        assert!(diags[0].message.contains("more than"));
    }

    /// The issue's bomb: one 100 KB string anchored once, aliased 5,000 times (500 MB).
    #[test]
    fn a_string_aliased_thousands_of_times_is_refused_at_the_alias() {
        let mut src = format!("big: &s \"{}\"\nlist:\n", "x".repeat(100_000));
        for _ in 0..5_000 {
            src.push_str("  - *s\n");
        }
        let (node, diags) = parse_ok(&src);
        assert!(node.is_none());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].code, Code::YamlSyntax);
        assert!(
            diags[0].message.contains("alias bomb"),
            "{}",
            diags[0].message
        );
        // The alias that crossed the budget: about the 12th item (10× of 116 KB ≈ 1.2 MB).
        assert!((10..=16).contains(&diags[0].line), "line {}", diags[0].line);
        assert_eq!(diags[0].column, 5);
    }

    #[test]
    fn nested_aliases_are_priced_before_they_are_copied() {
        // Nine levels of ten: 10^9 scalars if expanded; refused in a few levels.
        let mut src =
            String::from("a0: &a0 [\"xxxxxxxxxxxxxxxxxxxxxxxx\", x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            src.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                vec![format!("*a{p}"); 10].join(", ")
            ));
        }
        let (node, diags) = parse_ok(&src);
        assert!(node.is_none());
        assert!(diags[0].message.contains("alias bomb"));
    }

    #[test]
    fn reuse_through_aliases_within_the_budget_passes() {
        let src = "defaults: &d {model: gpt, temperature: 0.2, text: \"a fairly long shared value\"}\n\
                   a: *d\nb: *d\nc: {<<: *d}\nlist: [*d, *d, *d, *d, *d, *d, *d, *d]\n";
        let (node, diags) = parse_ok(src);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(node.is_some());
    }

    #[test]
    fn a_large_document_without_aliases_passes_whatever_its_size() {
        // 200,000 list items, 2.8 MB: far over the alias floor, and no alias at all.
        let mut src = String::from("tests:\n");
        for i in 0..200_000 {
            src.push_str(&format!("  - q{i}\n"));
        }
        let (node, diags) = parse_ok(&src);
        assert!(diags.is_empty(), "{:?}", diags.first());
        assert_eq!(
            node.unwrap()
                .get("tests")
                .unwrap()
                .value
                .as_seq()
                .unwrap()
                .len(),
            200_000
        );
    }

    #[test]
    fn the_absolute_cap_names_the_node_that_crosses_it() {
        let limits = Limits {
            max_bytes: Some(1_000),
            ..Limits::default()
        };
        let src = format!("id: a.b\ntemplate: \"{}\"\n", "y".repeat(2_000));
        let mut f = Findings::new("t.yaml");
        assert!(parse_within(&src, &limits, &mut f).is_none());
        let diags = f.into_vec();
        assert_eq!((diags[0].line, diags[0].column), (2, 11));
        assert!(diags[0].message.contains("1 KB"), "{}", diags[0].message);
        let mut f = Findings::new("t.yaml");
        assert!(parse_within("id: a.b\ntemplate: short\n", &limits, &mut f).is_some());
    }

    #[test]
    fn second_document_is_reported() {
        let (_, diags) = parse_ok("a: 1\n---\nb: 2\n");
        assert_eq!(diags[0].code, Code::NotAMapping);
        assert_eq!(diags[0].line, 2);
    }

    #[test]
    fn whole_floats_become_integers_in_json() {
        let (node, _) = parse_ok("a: 1.0\nb: 0.90\n");
        let j = to_json(&node.unwrap());
        assert_eq!(j.to_string(), r#"{"a":1,"b":0.9}"#);
    }
}
