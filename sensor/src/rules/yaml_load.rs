//! YAML reading with a position on every node.
//!
//! Crate choice: `saphyr-parser` is the maintained YAML 1.2 successor of
//! `yaml-rust` (`serde_yaml` is deprecated and its spans are only available on
//! errors). We consume its event stream and build our own small tree because
//! (a) every event carries a `Marker` (line/column), so every node — scalars
//! included — keeps its position for diagnostics, (b) scalars stay strings as
//! in Falco's yaml-cpp reader (no YAML 1.2 type guessing that would turn
//! `0.57.0` or `080` into something else), and (c) building iteratively lets
//! us bound nesting depth and node count, so hostile input (deep nesting,
//! alias bombs) yields an error instead of a stack overflow or OOM.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

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
    Seq { items: Vec<Node>, loc: Location, anchor: usize },
    Map { entries: Vec<(Node, Node)>, key: Option<Node>, seen: HashSet<String>, loc: Location, anchor: usize },
}

fn loc_of(file: &Arc<str>, span: Span) -> Location {
    Location { file: file.clone(), line: span.start.line(), column: span.start.col() + 1 }
}

fn yaml_err(loc: Location, message: impl Into<String>) -> LoadError {
    LoadError::Yaml { loc, message: message.into(), source: None }
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

/// Parses every YAML document of `text`. Empty documents are omitted.
///
/// # Errors
/// Malformed YAML, nesting deeper than [`MAX_YAML_DEPTH`], more than
/// [`MAX_YAML_NODES`] nodes, or an undefined alias.
pub fn load_documents(file: &Arc<str>, text: &str) -> Result<Vec<Node>, LoadError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut nodes = 0usize;

    for ev in Parser::new_from_str(text) {
        let (event, span) = ev.map_err(|e| {
            let m = e.marker();
            LoadError::Yaml {
                loc: Location { file: file.clone(), line: m.line(), column: m.col() + 1 },
                message: e.info().to_string(),
                source: Some(e),
            }
        })?;
        let loc = loc_of(file, span);
        let complete: Option<(Node, usize)> = match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd => {
                None
            }
            Event::Alias(id) => {
                let target = anchors.get(&id).ok_or_else(|| yaml_err(loc.clone(), "alias to an unknown anchor"))?;
                nodes += node_count(target);
                Some((target.clone(), 0))
            }
            Event::Scalar(value, style, anchor, _tag) => {
                nodes += 1;
                let quoted = !matches!(style, ScalarStyle::Plain);
                let data = if !quoted && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                    NodeData::Null
                } else {
                    NodeData::Scalar { value: value.into_owned(), quoted }
                };
                Some((Node { data, loc }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_YAML_DEPTH {
                    return Err(yaml_err(loc, format!("nesting deeper than {MAX_YAML_DEPTH} levels")));
                }
                stack.push(Frame::Seq { items: Vec::new(), loc, anchor });
                None
            }
            Event::MappingStart(anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_YAML_DEPTH {
                    return Err(yaml_err(loc, format!("nesting deeper than {MAX_YAML_DEPTH} levels")));
                }
                stack.push(Frame::Map { entries: Vec::new(), key: None, seen: HashSet::new(), loc, anchor });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, loc, anchor }) => Some((Node { data: NodeData::Seq(items), loc }, anchor)),
                Some(Frame::Map { entries, loc, anchor, .. }) => {
                    Some((Node { data: NodeData::Map(entries), loc }, anchor))
                }
                None => return Err(yaml_err(loc, "unbalanced collection end")),
            },
        };
        if nodes > MAX_YAML_NODES {
            return Err(yaml_err(loc_of(file, span), format!("more than {MAX_YAML_NODES} YAML nodes")));
        }
        let Some((node, anchor)) = complete else { continue };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, seen, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Some(name) = k.as_str()
                        && !seen.insert(name.to_string())
                    {
                        return Err(yaml_err(k.loc.clone(), format!("duplicate mapping key '{name}'")));
                    }
                    entries.push((k, node));
                }
            },
        }
    }
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}
