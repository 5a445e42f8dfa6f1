//! A YAML document as a tree that remembers where every key and value stands.
//!
//! Validation needs the line and column of each key and value, duplicate-key detection
//! and all findings at once, which a serde deserializer does not give. This module turns
//! the events of `granit-parser` into a small tree, resolving plain scalars with the YAML
//! 1.2 core schema, and bounds the work a hostile file can cause (nesting is limited by
//! the parser, alias expansion here: see [`Limits`]).

mod build;
pub mod emit;
mod scalar;

pub use build::{Divert, Limits, NODE_BYTES, parse_chars_diverting, parse_diverting, parse_within};

use crate::diagnostic::{Findings, Pos};

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

/// Parses `source` as one YAML document within the default [`Limits`]. Problems go to
/// `findings`; the tree is `None` when there is no usable document (syntax error,
/// empty stream, over the limits).
pub fn parse(source: &str, findings: &mut Findings) -> Option<Node> {
    parse_within(source, &Limits::default(), findings)
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
    use crate::diagnostic::Code;

    /// The tree and the findings of `src` (the tests of `build` use it too).
    pub(super) fn parse_ok(src: &str) -> (Option<Node>, Vec<crate::diagnostic::Diagnostic>) {
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
