//! Path-prefix tree for `pmatch`: a value matches when one of the patterns
//! is a prefix of it on whole path components. Pattern components may use
//! glob wildcards matching within one component.

use std::collections::HashMap;

use super::glob::Glob;

#[derive(Debug, Default, Clone)]
struct Node {
    terminal: bool,
    exact: HashMap<Box<str>, usize>,
    wild: Vec<(Glob, usize)>,
}

#[derive(Debug, Clone)]
pub struct PathTree {
    nodes: Vec<Node>,
}

fn components(p: &str) -> impl Iterator<Item = &str> {
    p.split('/').filter(|c| !c.is_empty())
}

impl PathTree {
    #[must_use]
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> PathTree {
        let mut nodes = vec![Node::default()];
        for p in patterns {
            let mut cur = 0usize;
            for comp in components(p) {
                let next = if Glob::has_wildcards(comp) {
                    nodes.push(Node::default());
                    let id = nodes.len() - 1;
                    nodes[cur].wild.push((Glob::new(comp, false), id));
                    id
                } else if let Some(&id) = nodes[cur].exact.get(comp) {
                    id
                } else {
                    nodes.push(Node::default());
                    let id = nodes.len() - 1;
                    nodes[cur].exact.insert(comp.into(), id);
                    id
                };
                cur = next;
            }
            nodes[cur].terminal = true;
        }
        PathTree { nodes }
    }

    #[must_use]
    pub fn matches(&self, path: &str) -> bool {
        let mut states: Vec<usize> = vec![0];
        let mut next = Vec::new();
        if self.nodes[0].terminal {
            return true;
        }
        for comp in components(path) {
            next.clear();
            for &s in &states {
                let n = &self.nodes[s];
                if let Some(&id) = n.exact.get(comp) {
                    next.push(id);
                }
                next.extend(n.wild.iter().filter(|(g, _)| g.matches(comp)).map(|(_, id)| *id));
            }
            if next.iter().any(|&id| self.nodes[id].terminal) {
                return true;
            }
            if next.is_empty() {
                return false;
            }
            std::mem::swap(&mut states, &mut next);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::PathTree;

    #[test]
    fn component_boundaries() {
        let t = PathTree::new(["/tmp/hello", "/opt/*/subdir"]);
        assert!(t.matches("/tmp/hello"));
        assert!(t.matches("/tmp/hello/x"));
        assert!(!t.matches("/tmp/hello_world"));
        assert!(!t.matches("/tmp"));
        assert!(t.matches("/opt/app/subdir/file"));
        assert!(!t.matches("/opt/app/other/subdir"));
    }
}
