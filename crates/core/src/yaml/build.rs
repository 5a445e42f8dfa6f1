//! Building the tree from the parser's events, within [`Limits`]: what aliases may
//! repeat is priced before they are copied, so a YAML bomb stops at its first
//! expensive alias.

use super::scalar::scalar_node;
use super::{Entry, Node, Style, Value};
use crate::diagnostic::{Code, Findings, Pos};
use granit_parser::{Event, Marker, Parser, Span};
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

pub(super) fn pos_of(m: &Marker) -> Pos {
    Pos::new(m.line() as u32, m.col() as u32 + 1)
}

/// [`parse`] within `limits`.
pub fn parse_within(source: &str, limits: &Limits, findings: &mut Findings) -> Option<Node> {
    build(
        Parser::new_from_str(source),
        source.len(),
        limits,
        findings,
        None,
    )
}

/// A list of the top-level mapping whose items are handed over one by one as they are
/// completed instead of being kept in the tree.
pub struct Divert<'a> {
    /// The top-level key whose list is diverted (`tests`).
    pub key: &'a str,
    /// Takes each completed item; an `Err` stops the parse with that message at the item.
    pub take: &'a mut dyn FnMut(Node) -> Result<(), String>,
}

/// [`parse_within`], with the items of one top-level list handed to `divert.take` as
/// they are completed (the list stays in the tree, empty): a document whose bulk is one
/// long list — a suite of 100,000 tests — is read holding one item at a time.
pub fn parse_diverting(
    source: &str,
    limits: &Limits,
    findings: &mut Findings,
    divert: Divert<'_>,
) -> Option<Node> {
    build(
        Parser::new_from_str(source),
        source.len(),
        limits,
        findings,
        Some(divert),
    )
}

/// [`parse_diverting`] over characters as they are read (a file through a reader), so
/// not even the text of a large document is held at once; `source_len` is its size in
/// bytes, which the alias budget is measured against.
pub fn parse_chars_diverting(
    chars: impl Iterator<Item = char>,
    source_len: usize,
    limits: &Limits,
    findings: &mut Findings,
    divert: Divert<'_>,
) -> Option<Node> {
    build(
        Parser::new_from_iter(chars),
        source_len,
        limits,
        findings,
        Some(divert),
    )
}

fn build<'input, T: granit_parser::BorrowedInput<'input>>(
    mut parser: Parser<'input, T>,
    source_len: usize,
    limits: &Limits,
    findings: &mut Findings,
    divert: Option<Divert<'_>>,
) -> Option<Node> {
    let mut builder = Builder {
        alias_budget: limits.alias_budget(source_len),
        alias_ratio: limits.alias_ratio,
        source_len,
        max_bytes: limits.max_bytes,
        divert,
        ..Builder::default()
    };
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
struct Builder<'a> {
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
    divert: Option<Divert<'a>>,
}

impl Builder<'_> {
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
                self.finish(node, bytes, findings)?;
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
                self.finish(node, bytes, findings)?;
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
                self.finish(node, bytes, findings)?;
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

    /// Whether a node completed now is an item of the diverted list: the stack is the
    /// root mapping, waiting for the value of the diverted key, and that list.
    fn in_diverted_list(&self) -> bool {
        let Some(divert) = &self.divert else {
            return false;
        };
        matches!(
            self.stack.as_slice(),
            [Frame::Map { pending_key: Some((key, _)), .. }, Frame::Seq { .. }] if key == divert.key
        )
    }

    /// Attaches a completed node (measuring `bytes`) to its parent, as a key, a value
    /// or an item; an item of the diverted list goes to its taker instead.
    fn finish(&mut self, node: Node, bytes: usize, findings: &mut Findings) -> Result<(), Refusal> {
        if self.in_diverted_list()
            && let Some(divert) = &mut self.divert
        {
            return (divert.take)(node).map_err(|message| Refusal {
                message,
                hint: "fix this item of the list",
            });
        }
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
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tests::parse_ok;

    #[test]
    fn a_diverted_list_is_handed_over_item_by_item_and_left_empty() {
        let source =
            "a: 1\ntests:\n  - &first {n: 1}\n  - n: 2\n    tests: [x]\n  - *first\nb: [1]\n";
        let mut taken = Vec::new();
        let mut findings = Findings::new("t.yaml");
        let root = parse_diverting(
            source,
            &Limits::default(),
            &mut findings,
            Divert {
                key: "tests",
                take: &mut |node| {
                    taken.push(crate::yaml::to_json(&node));
                    Ok(())
                },
            },
        )
        .unwrap();
        assert!(findings.as_slice().is_empty());
        assert_eq!(
            taken,
            vec![
                serde_json::json!({"n": 1}),
                serde_json::json!({"n": 2, "tests": ["x"]}),
                serde_json::json!({"n": 1}),
            ],
            "items in order; a nested list of the same name stays inside its item; aliases work across items"
        );
        assert_eq!(
            crate::yaml::to_json(&root),
            serde_json::json!({"a": 1, "tests": [], "b": [1]})
        );
    }

    #[test]
    fn a_refused_item_stops_the_parse_with_its_message() {
        let mut findings = Findings::new("t.yaml");
        let root = parse_diverting(
            "tests:\n  - 1\n  - 2\n",
            &Limits::default(),
            &mut findings,
            Divert {
                key: "tests",
                take: &mut |_| Err("no room".into()),
            },
        );
        assert!(root.is_none());
        assert_eq!(findings.as_slice()[0].message, "no room");
        assert_eq!(findings.as_slice()[0].line, 2);
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

    /// The bomb: one 100 KB string anchored once, aliased 5,000 times (500 MB).
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
}
