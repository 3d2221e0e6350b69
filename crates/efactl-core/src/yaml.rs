//! A YAML document as a tree of nodes that remember where they came from.
//!
//! The spec decoder, the source map and the CloudFormation reader all need the position of
//! every value, and the decoder must collect every mistake instead of stopping at the first,
//! so we build our own small tree from saphyr-parser's event stream rather than deserializing
//! straight into types. The builder enforces budgets (size, depth, node count, alias
//! expansion) so that a hostile file is an error, never a hang, a stack overflow or an
//! exhausted machine.

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Largest input we read. Cluster specs are a few kilobytes; a generated 1,000-group spec is
/// under a megabyte.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// Deepest nesting accepted. The spec itself is at most six levels deep.
pub const MAX_DEPTH: usize = 64;
/// Most nodes (after alias expansion) in one document: the guard against "billion laughs".
pub const MAX_NODES: usize = 1_000_000;

/// A position in the source: 1-based line and column (in characters), and a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub offset: usize,
}

/// A half-open range of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar as written; `plain` is false for quoted and block scalars, which are always
    /// strings (YAML 1.2 core schema).
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub kind: Kind,
    /// The node's tag as written (`!Ref`, `!GetAtt`, `!!str`): CloudFormation's short-form
    /// intrinsic functions are tags, so the template reader needs them; the spec ignores them.
    pub tag: Option<String>,
}

impl Node {
    /// True for `~`, `null`, `Null`, `NULL` and the empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What this node is, in the words a user reads in an error ("a mapping", "a string").
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
            Kind::Scalar { .. } if self.is_null() => "nothing (null)",
            Kind::Scalar { value, plain: true } if parse_bool(value).is_some() => "a boolean",
            Kind::Scalar { value, plain: true } if value.parse::<f64>().is_ok() => "a number",
            Kind::Scalar { .. } => "a string",
        }
    }
}

/// YAML 1.2 core-schema booleans.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub pos: Pos,
}

/// Turns the parser's character positions into byte offsets without a table the size of the
/// file: events arrive in order, so a cursor that only moves forward (and restarts from the
/// line start when it must go back) is linear overall.
struct Offsets<'a> {
    text: &'a str,
    ascii: bool,
    line_starts: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Offsets {
            text,
            ascii: text.is_ascii(),
            line_starts,
        }
    }

    fn pos(&self, m: saphyr_parser::Marker) -> Pos {
        let line = m.line().max(1);
        let col0 = m.col();
        let offset = if self.ascii {
            m.index().min(self.text.len())
        } else {
            let start = self
                .line_starts
                .get(line - 1)
                .copied()
                .unwrap_or(self.text.len());
            let rest = &self.text[start..];
            start
                + rest
                    .char_indices()
                    .nth(col0)
                    .map(|(i, _)| i)
                    .unwrap_or(rest.len())
        };
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(col0 + 1).unwrap_or(u32::MAX),
            offset,
        }
    }
}

enum Frame {
    Seq {
        start: Pos,
        anchor: usize,
        tag: Option<String>,
        items: Vec<Node>,
    },
    Map {
        start: Pos,
        anchor: usize,
        tag: Option<String>,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

fn tag_text(tag: Option<std::borrow::Cow<'_, saphyr_parser::Tag>>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

/// Parses exactly one YAML document. An empty stream (no document, or only comments) is
/// `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let strict = parse_strict(text);
    let Err(e) = &strict else {
        return strict;
    };
    // PyYAML (and so cfn-lint and CloudFormation's own examples) ignores indentation inside
    // `[...]` and `{...}`; YAML 1.2 wants each line of a flow collection indented past its
    // block parent, so a closing `]` at its key's indentation is an error here alone. Read
    // such a file as PyYAML does: indent the flow lines, parse, and give every position back
    // in the file's own columns and offsets.
    if !e.message.contains("indentation") {
        return strict;
    }
    let Some((relaxed, inserts)) = indent_flow_lines(text) else {
        return strict;
    };
    match parse_strict(&relaxed) {
        Ok(Some(mut root)) => {
            unshift(&mut root, &inserts);
            Ok(Some(root))
        }
        Ok(None) => Ok(None),
        Err(_) => strict,
    }
}

/// Spaces inserted at the start of a line: (line, count, offset in the original text).
type Inserts = Vec<(u32, u32, usize)>;

/// The text with every line that starts inside a flow collection indented one column past
/// the line that opened the collection; `None` when no line needed it.
fn indent_flow_lines(text: &str) -> Option<(String, Inserts)> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut inserts = Vec::new();
    // Indentation of the line that opened each open bracket.
    let mut open: Vec<usize> = Vec::new();
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(&outer) = open.first() {
            let want = outer + 1;
            if indent < want && !line.trim().is_empty() {
                let add = want - indent;
                out.extend(std::iter::repeat_n(' ', add));
                inserts.push((i as u32 + 1, add as u32, offset));
            }
        }
        out.push_str(line);
        // Brackets outside quotes and comments.
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in line.chars() {
            match quote {
                Some(q) => {
                    if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '"' | '\'' if open.is_empty() || "[{,: ".contains(prev) => quote = Some(c),
                    '#' if prev == ' ' || prev == '\t' => break,
                    '[' | '{' => open.push(indent),
                    ']' | '}' => {
                        open.pop();
                    }
                    _ => {}
                },
            }
            prev = c;
        }
        offset += line.len();
    }
    (!inserts.is_empty()).then_some((out, inserts))
}

/// Positions of the indented text back in the original's terms.
fn unshift(node: &mut Node, inserts: &Inserts) {
    let fix = |p: &mut Pos| {
        let before: usize = inserts
            .iter()
            .filter(|(line, add, _)| *line < p.line || (*line == p.line && p.column > *add))
            .map(|(_, add, _)| *add as usize)
            .sum();
        if let Some((_, add, _)) = inserts.iter().find(|(line, _, _)| *line == p.line) {
            p.column = p.column.saturating_sub(*add).max(1);
        }
        p.offset = p.offset.saturating_sub(before);
    };
    let mut todo: Vec<&mut Node> = vec![node];
    while let Some(n) = todo.pop() {
        fix(&mut n.span.start);
        fix(&mut n.span.end);
        match &mut n.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => todo.extend(items.iter_mut()),
            Kind::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    todo.push(k);
                    todo.push(v);
                }
            }
        }
    }
}

fn parse_strict(text: &str) -> Result<Option<Node>, YamlError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(YamlError {
            message: format!(
                "the file is {:.1} MiB; efactl reads specs up to {} MiB",
                text.len() as f64 / 1_048_576.0,
                MAX_INPUT_BYTES / 1_048_576
            ),
            pos: Pos {
                line: 1,
                column: 1,
                offset: 0,
            },
        });
    }
    let offsets = Offsets::new(text);
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0usize;
    let mut nodes = 0usize;
    let mut last_end = Pos {
        line: 1,
        column: 1,
        offset: 0,
    };

    let err = |message: String, pos: Pos| YamlError { message, pos };

    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(x) => x,
            Err(e) => {
                let pos = offsets.pos(*e.marker());
                return Err(err(format!("invalid YAML: {}", e.info()), pos));
            }
        };
        let start = offsets.pos(span.start);
        let end = offsets.pos(span.end);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(err(
                        "a spec holds one YAML document; this file has more than one (`---`)"
                            .into(),
                        start,
                    ));
                }
                None
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(err("alias refers to an unknown anchor".into(), start));
                };
                nodes = nodes.saturating_add(count_nodes(target));
                if nodes > MAX_NODES {
                    return Err(err(
                        format!("aliases expand to more than {MAX_NODES} values (a YAML bomb?)"),
                        start,
                    ));
                }
                let mut n = target.clone();
                // Report problems inside an alias at the alias, which is what the user sees.
                relocate(&mut n, Span { start, end });
                Some((n, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                nodes += 1;
                let plain = matches!(style, ScalarStyle::Plain);
                Some((
                    Node {
                        span: Span { start, end },
                        kind: Kind::Scalar {
                            value: value.into_owned(),
                            plain,
                        },
                        tag: tag_text(tag),
                    },
                    anchor,
                ))
            }
            Event::SequenceStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        start,
                    ));
                }
                stack.push(Frame::Seq {
                    start,
                    anchor,
                    tag: tag_text(tag),
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, tag) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(
                        format!("nesting deeper than {MAX_DEPTH} levels"),
                        start,
                    ));
                }
                stack.push(Frame::Map {
                    start,
                    anchor,
                    tag: tag_text(tag),
                    entries: Vec::new(),
                    key: None,
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    tag,
                    items,
                }) => {
                    nodes += 1;
                    let end = items.last().map(|n| n.span.end).unwrap_or(end).max_by(end);
                    Some((
                        Node {
                            span: Span { start, end },
                            kind: Kind::Seq(items),
                            tag,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced sequence".into(), start)),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    start,
                    anchor,
                    tag,
                    entries,
                    ..
                }) => {
                    nodes += 1;
                    let end = entries
                        .last()
                        .map(|(_, v)| v.span.end)
                        .unwrap_or(end)
                        .max_by(end);
                    Some((
                        Node {
                            span: Span { start, end },
                            kind: Kind::Map(entries),
                            tag,
                        },
                        anchor,
                    ))
                }
                _ => return Err(err("unbalanced mapping".into(), start)),
            },
        };
        if nodes > MAX_NODES {
            return Err(err(
                format!("more than {MAX_NODES} values in one document"),
                start,
            ));
        }
        last_end = end;
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq { items, .. }) => items.push(node),
                Some(Frame::Map { entries, key, .. }) => match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                },
            }
        }
    }
    if !stack.is_empty() {
        return Err(err("unexpected end of file".into(), last_end));
    }
    Ok(root.filter(|n| {
        !n.is_null() || !matches!(&n.kind, Kind::Scalar { value, .. } if value.is_empty())
    }))
}

trait MaxBy {
    fn max_by(self, other: Self) -> Self;
}
impl MaxBy for Pos {
    fn max_by(self, other: Pos) -> Pos {
        if other.offset > self.offset {
            other
        } else {
            self
        }
    }
}

fn count_nodes(n: &Node) -> usize {
    // Iterative: the tree may be as deep as MAX_DEPTH, but we never recurse on user data.
    let mut count = 0usize;
    let mut todo = vec![n];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => todo.extend(items.iter()),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
        }
    }
    count
}

fn relocate(n: &mut Node, span: Span) {
    let mut todo = vec![n];
    while let Some(n) = todo.pop() {
        n.span = span;
        match &mut n.kind {
            Kind::Scalar { .. } => {}
            Kind::Seq(items) => todo.extend(items.iter_mut()),
            Kind::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    todo.push(k);
                    todo.push(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_bytes_follow_unicode() {
        let doc = parse("a: 1\nb:\n  - héllo\n  - x\n").unwrap().unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!("map expected")
        };
        let (k, v) = &entries[1];
        assert_eq!((k.span.start.line, k.span.start.column), (2, 1));
        let Kind::Seq(items) = &v.kind else {
            panic!("seq expected")
        };
        assert_eq!(
            (items[1].span.start.line, items[1].span.start.column),
            (4, 5)
        );
        // "a: 1\nb:\n  - héllo\n  - " is 23 bytes (é is two).
        assert_eq!(items[1].span.start.offset, 23);
    }

    /// Flat text of a tree, to compare with what PyYAML loads.
    fn flat(n: &Node) -> String {
        match &n.kind {
            Kind::Scalar { value, .. } => value.clone(),
            Kind::Seq(items) => {
                format!("[{}]", items.iter().map(flat).collect::<Vec<_>>().join(","))
            }
            Kind::Map(e) => format!(
                "{{{}}}",
                e.iter()
                    .map(|(k, v)| format!("{}:{}", flat(k), flat(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    #[test]
    fn flow_collections_ignore_indentation_as_pyyaml_does() {
        // Each input with what PyYAML 6 (`yaml.safe_load`, as cfn-lint reads templates) loads,
        // or None where it refuses; checked with the test venv's PyYAML.
        let cases: &[(&str, Option<&str>)] = &[
            (
                "a:\n  b:\n    [\n      x,\n      y\n  ]\nc: 1\n",
                Some("{a:{b:[x,y]},c:1}"),
            ),
            ("a:\n  b: [\n    x,\ny]\nc: 1\n", Some("{a:{b:[x,y]},c:1}")),
            (
                "a:\n  b: {\n x: 1,\n    y: 2\n  }\n",
                Some("{a:{b:{x:1,y:2}}}"),
            ),
            (
                "a:\n  b: [ \"x]\",\n  'y[' ]\nc: 2\n",
                Some("{a:{b:[x],y[]},c:2}"),
            ),
            ("a:\n  b: [ x, # ]\n y ]\n", Some("{a:{b:[x,y]}}")),
            ("a:\n  b: 1\n c: 2\n", None),
        ];
        for (text, want) in cases {
            let got = parse(text).ok().flatten().map(|n| flat(&n));
            assert_eq!(got.as_deref(), *want, "{text:?}");
        }
        // Positions stay the file's own: `y` of the second case is line 4, column 1.
        let doc = parse("a:\n  b: [\n    x,\ny]\nc: 1\n").unwrap().unwrap();
        let Kind::Map(top) = &doc.kind else { panic!() };
        let Kind::Map(inner) = &top[0].1.kind else {
            panic!()
        };
        let Kind::Seq(items) = &inner[0].1.kind else {
            panic!()
        };
        assert_eq!(
            (items[1].span.start.line, items[1].span.start.column),
            (4, 1)
        );
        assert_eq!(items[1].span.start.offset, "a:\n  b: [\n    x,\n".len());
        let (c, _) = &top[1];
        assert_eq!(
            (c.span.start.line, c.span.start.offset),
            (5, "a:\n  b: [\n    x,\ny]\n".len())
        );
    }

    #[test]
    fn empty_and_comment_only_files_have_no_document() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# just a comment\n").unwrap(), None);
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&s).unwrap_err();
        assert!(e.message.contains("YAML bomb"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse(&s).unwrap_err();
        // The parser's own recursion limit or ours, whichever trips first: an error either way.
        assert!(
            e.message.contains("nesting deeper") || e.message.contains("recursion limit"),
            "{}",
            e.message
        );
    }

    #[test]
    fn tags_are_kept() {
        let doc = parse("a: !Ref X\nb: !Sub [x, {}]\nc: !!str 1\nd: plain\n")
            .unwrap()
            .unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!("map expected")
        };
        let tags: Vec<Option<&str>> = entries.iter().map(|(_, v)| v.tag.as_deref()).collect();
        assert_eq!(tags[0], Some("!Ref"));
        assert_eq!(tags[1], Some("!Sub"));
        assert!(tags[2].is_some_and(|t| t.ends_with("str")), "{tags:?}");
        assert_eq!(tags[3], None);
    }

    #[test]
    fn two_documents_are_refused() {
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(e.pos.line >= 1);
    }
}
