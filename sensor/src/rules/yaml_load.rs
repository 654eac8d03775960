//! YAML reading with a position on every node.
//!
//! Crate choice: `libyaml-safer`, a line-by-line port of libyaml to safe
//! Rust (maintained; MIT). Falco reads rules with yaml-cpp, which, like
//! libyaml, accepts the flow collections of Falco's own files whose closing
//! `]` sits at the indentation of its key (`falco-sandbox_rules.yaml`);
//! `saphyr-parser` (and `yaml-rust2`) reject those as "invalid indentation"
//! and have no lenient mode. `serde_yaml` is deprecated and keeps positions
//! only on errors. We consume the event stream and build our own small tree
//! because (a) every event carries a start mark (line/column), so every
//! node, scalars included, keeps its position for diagnostics, (b) scalars
//! stay strings as in Falco's yaml-cpp reader (no YAML 1.2 type guessing
//! that would turn `0.57.0` or `080` into something else), (c) duplicate
//! mapping keys are kept in order, as yaml-cpp keeps them (lookups return
//! the first; the reader warns), and (d) building iteratively lets us bound
//! nesting depth and node count, so hostile input (deep nesting, alias
//! bombs) yields an error instead of a stack overflow or OOM.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use libyaml_safer::{EventData, Mark, Parser, ScalarStyle};

use super::error::{LoadError, Location};

/// Deeper YAML than this is never a sensible rules file.
pub const MAX_YAML_DEPTH: usize = 64;
/// Upper bound on nodes per file, aliases included (defuses alias bombs).
pub const MAX_YAML_NODES: usize = 2_000_000;

#[derive(Debug, Clone)]
pub enum NodeData {
    /// Plain scalars `~`, `null` and empty values are `Null`.
    Null,
    Scalar {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub data: NodeData,
    pub loc: Location,
}

impl Node {
    /// The scalar text, when this node is a (non-null) scalar.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.data {
            NodeData::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self.data, NodeData::Null)
    }

    #[must_use]
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.data {
            NodeData::Seq(v) => Some(v),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.data {
            NodeData::Map(v) => Some(v),
            _ => None,
        }
    }

    /// Looks a key up in a mapping node.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// The key node of `key` in a mapping node (for positions).
    #[must_use]
    pub fn get_key(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(k, _)| k)
    }

    /// A human name for the node's type, for "expected X, got Y" messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self.data {
            NodeData::Null => "null",
            NodeData::Scalar { .. } => "scalar",
            NodeData::Seq(_) => "sequence",
            NodeData::Map(_) => "mapping",
        }
    }

    /// Parses a YAML boolean the way yaml-cpp's `as<bool>` does.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()? {
            "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Some(true),
            "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Some(false),
            _ => None,
        }
    }
}

enum Frame {
    Seq { items: Vec<Node>, loc: Location, anchor: Option<String> },
    Map { entries: Vec<(Node, Node)>, key: Option<Node>, loc: Location, anchor: Option<String> },
}

fn loc_of(file: &Arc<str>, mark: Mark) -> Location {
    let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX).saturating_add(1);
    Location { file: file.clone(), line: n(mark.line), column: n(mark.column) }
}

fn yaml_err(loc: Location, message: impl Into<String>) -> LoadError {
    LoadError::Yaml { loc, message: message.into() }
}

/// libyaml's error as one sentence: problem, then what it was parsing and
/// where that started.
fn scan_error(file: &Arc<str>, e: &libyaml_safer::Error) -> LoadError {
    let loc = e.problem_mark().map_or_else(|| Location { file: file.clone(), line: 1, column: 1 }, |m| loc_of(file, m));
    let mut message = e.problem().to_string();
    if let Some(ctx) = e.context() {
        message.push(' ');
        message.push_str(ctx);
        if let Some(m) = e.context_mark() {
            let at = loc_of(file, m);
            let _ = write!(message, " (started at line {} column {})", at.line, at.column);
        }
    }
    yaml_err(loc, message)
}

fn node_count(n: &Node) -> usize {
    // Iterative so that counting a (depth-bounded) alias target is cheap and safe.
    let mut stack = vec![n];
    let mut count = 0usize;
    while let Some(n) = stack.pop() {
        count += 1;
        match &n.data {
            NodeData::Seq(v) => stack.extend(v.iter()),
            NodeData::Map(v) => {
                for (k, val) in v {
                    stack.push(k);
                    stack.push(val);
                }
            }
            _ => {}
        }
    }
    count
}

fn open_collection(stack: &[Frame], loc: &Location) -> Result<(), LoadError> {
    if stack.len() >= MAX_YAML_DEPTH {
        return Err(yaml_err(loc.clone(), format!("nesting deeper than {MAX_YAML_DEPTH} levels")));
    }
    Ok(())
}

/// Parses every YAML document of `text`. Empty documents are omitted.
///
/// # Errors
/// Malformed YAML, nesting deeper than [`MAX_YAML_DEPTH`], more than
/// [`MAX_YAML_NODES`] nodes, or an undefined alias.
pub fn load_documents(file: &Arc<str>, text: &str) -> Result<Vec<Node>, LoadError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<String, Node> = HashMap::new();
    let mut nodes = 0usize;
    let mut input = text.as_bytes();
    let mut parser = Parser::new();
    parser.set_input_string(&mut input);

    for ev in parser {
        let ev = ev.map_err(|e| scan_error(file, &e))?;
        let loc = loc_of(file, ev.start_mark);
        let complete: Option<(Node, Option<String>)> = match ev.data {
            EventData::StreamStart { .. }
            | EventData::StreamEnd
            | EventData::DocumentStart { .. }
            | EventData::DocumentEnd { .. } => None,
            EventData::Alias { anchor } => {
                let target = anchors
                    .get(&anchor)
                    .ok_or_else(|| yaml_err(loc.clone(), format!("alias '*{anchor}' to an unknown anchor")))?;
                nodes += node_count(target);
                Some((target.clone(), None))
            }
            EventData::Scalar { anchor, value, style, .. } => {
                nodes += 1;
                let quoted = !matches!(style, ScalarStyle::Plain | ScalarStyle::Any);
                let data = if !quoted && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL") {
                    NodeData::Null
                } else {
                    NodeData::Scalar { value, quoted }
                };
                Some((Node { data, loc: loc.clone() }, anchor))
            }
            EventData::SequenceStart { anchor, .. } => {
                nodes += 1;
                open_collection(&stack, &loc)?;
                stack.push(Frame::Seq { items: Vec::new(), loc: loc.clone(), anchor });
                None
            }
            EventData::MappingStart { anchor, .. } => {
                nodes += 1;
                open_collection(&stack, &loc)?;
                stack.push(Frame::Map { entries: Vec::new(), key: None, loc: loc.clone(), anchor });
                None
            }
            EventData::SequenceEnd | EventData::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, loc, anchor }) => Some((Node { data: NodeData::Seq(items), loc }, anchor)),
                Some(Frame::Map { entries, loc, anchor, .. }) => {
                    Some((Node { data: NodeData::Map(entries), loc }, anchor))
                }
                None => return Err(yaml_err(loc, "unbalanced collection end")),
            },
        };
        if nodes > MAX_YAML_NODES {
            return Err(yaml_err(loc, format!("more than {MAX_YAML_NODES} YAML nodes")));
        }
        let Some((node, anchor)) = complete else { continue };
        if let Some(a) = anchor {
            anchors.insert(a, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}
