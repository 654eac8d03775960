//! One workload's profile: a `SensorProfile` document (the file on disk,
//! the exported YAML and, later, the Kubernetes object are the same text),
//! with its learning lifecycle. Lists are sorted sets, so two versions of
//! a profile diff line by line.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::item::{self, Item, ItemKind};
use super::key::ProfileKey;

pub const API_VERSION: &str = "sensor.example.io/v1alpha1";
pub const KIND: &str = "SensorProfile";

/// Children of one directory (ports of one host, hosts of one network)
/// a profile keeps before it learns the directory (`dir/*`) instead.
pub const FANOUT: usize = 16;
/// Distinct deviations kept in a profile's status for review.
const RECENT_DEVIATIONS: usize = 32;
/// Distinct deviations after which an enforcing profile is reported as
/// unstable: the workload changed, and a person must re-learn or approve.
pub const UNSTABLE_AFTER: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// New items are learned; nothing alerts.
    #[default]
    Learning,
    /// Learned long enough: deviations alert.
    Enforcing,
    /// Frozen by a person: enforces, never learns.
    Approved,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Learning => "learning",
            Mode::Enforcing => "enforcing",
            Mode::Approved => "approved",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub key: ProfileKey,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub exec: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub write: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub read: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub connect: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub listen: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub syscall: BTreeSet<String>,
}

impl Spec {
    pub fn set(&self, kind: ItemKind) -> &BTreeSet<String> {
        match kind {
            ItemKind::Exec => &self.exec,
            ItemKind::Write => &self.write,
            ItemKind::Read => &self.read,
            ItemKind::Connect => &self.connect,
            ItemKind::Listen => &self.listen,
            ItemKind::Syscall => &self.syscall,
        }
    }

    fn set_mut(&mut self, kind: ItemKind) -> &mut BTreeSet<String> {
        match kind {
            ItemKind::Exec => &mut self.exec,
            ItemKind::Write => &mut self.write,
            ItemKind::Read => &mut self.read,
            ItemKind::Connect => &mut self.connect,
            ItemKind::Listen => &mut self.listen,
            ItemKind::Syscall => &mut self.syscall,
        }
    }

    pub fn items(&self) -> usize {
        ItemKind::ALL.iter().map(|k| self.set(*k).len()).sum()
    }
}

/// Coverage and confidence, and why a profile is partial.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Events of the workload the profile looked at.
    #[serde(default)]
    pub events: u64,
    /// Seconds the agent watched the workload while it learned.
    #[serde(default)]
    pub learned_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_new_item: Option<String>,
    /// Kernel events lost while the profile learned: it may miss items.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost_events: u64,
    /// The workload ran before the agent saw it: its start-up is missing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub started_before_agent: bool,
    /// Items not learned because their list was full, by list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overflow: BTreeMap<String, u64>,
    /// Events that did not match the enforced profile.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deviations: u64,
    /// The latest distinct deviations (`kind item`), for review.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub recent_deviations: BTreeSet<String>,
    /// Kept changing after learning ([`UNSTABLE_AFTER`] distinct deviations).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unstable: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Status {
    /// Why the profile may miss what the workload does (empty: complete).
    pub fn partial(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.lost_events > 0 {
            why.push(format!("{} events lost during learning", self.lost_events));
        }
        if self.started_before_agent {
            why.push("the agent started after the workload".to_owned());
        }
        for (list, n) in &self.overflow {
            why.push(format!("{list} list full: {n} items not learned"));
        }
        why
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDoc {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
}

impl ProfileDoc {
    pub fn new(key: ProfileKey) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: Metadata { name: key.object_name(), namespace: key.namespace().map(str::to_owned) },
            spec: Spec {
                key,
                mode: Mode::Learning,
                exec: BTreeSet::new(),
                write: BTreeSet::new(),
                read: BTreeSet::new(),
                connect: BTreeSet::new(),
                listen: BTreeSet::new(),
                syscall: BTreeSet::new(),
            },
            status: Status::default(),
        }
    }

    /// Whether the profile knows the item, exactly or by a broader form.
    pub fn knows(&self, item: &Item) -> bool {
        let set = self.spec.set(item.kind);
        if set.contains(&item.text) {
            return true;
        }
        // The collapsed forms (`dir/*`, `tcp host:*`, `tcp *`) without
        // building them: this runs for every event a profile looks at.
        let cut = match item.kind {
            ItemKind::Write | ItemKind::Read => item.text.rfind('/'),
            ItemKind::Connect => item.text.rfind(':'),
            ItemKind::Listen => item.text.find(' '),
            ItemKind::Exec | ItemKind::Syscall => None,
        };
        if cut.is_some_and(|i| has_star_after(set, &item.text[..=i])) {
            return true;
        }
        // Networks (`tcp 10.1.2.0/24:443`): written by people, never learned.
        item.kind == ItemKind::Connect && item::broader(item).iter().any(|b| set.contains(b))
    }

    /// Learns an item (the caller checked it is new). `false`: its list is
    /// full, the item is counted as overflow.
    pub fn learn(&mut self, item: &Item, max_items: usize) -> bool {
        let set = self.spec.set_mut(item.kind);
        if let Some(general) = collapse_target(set, item) {
            // The children the broader form covers go; it takes their place.
            let prefix = general.trim_end_matches('*').to_owned();
            let covered: Vec<String> = set
                .range(prefix.clone()..)
                .take_while(|s| s.starts_with(&prefix))
                .filter(|s| covers(&general, s))
                .cloned()
                .collect();
            for c in covered {
                set.remove(&c);
            }
            set.insert(general);
            return true;
        }
        if set.len() >= max_items {
            *self.status.overflow.entry(item.kind.as_str().to_owned()).or_default() += 1;
            return false;
        }
        set.insert(item.text.clone());
        true
    }

    /// Records a deviation of an enforcing profile.
    pub fn deviate(&mut self, item: &Item) {
        self.status.deviations += 1;
        let text = item.to_string();
        if !self.status.recent_deviations.contains(&text) {
            if self.status.recent_deviations.len() >= RECENT_DEVIATIONS
                && let Some(first) = self.status.recent_deviations.iter().next().cloned()
            {
                self.status.recent_deviations.remove(&first);
            }
            self.status.recent_deviations.insert(text);
            if self.status.recent_deviations.len() >= UNSTABLE_AFTER {
                self.status.unstable = true;
            }
        }
    }

    /// Folds another node's (or an import's) observations into this one:
    /// the union of the lists and the larger counters. The more advanced
    /// mode wins (approved over enforcing over learning).
    pub fn merge(&mut self, other: &ProfileDoc, max_items: usize) {
        for kind in ItemKind::ALL {
            for text in other.spec.set(kind) {
                let it = Item { kind, text: text.clone() };
                if !self.knows(&it) {
                    self.learn(&it, max_items);
                }
            }
        }
        let rank = |m: Mode| match m {
            Mode::Learning => 0,
            Mode::Enforcing => 1,
            Mode::Approved => 2,
        };
        if rank(other.spec.mode) > rank(self.spec.mode) {
            self.spec.mode = other.spec.mode;
        }
        let (s, o) = (&mut self.status, &other.status);
        s.events = s.events.max(o.events);
        s.learned_seconds = s.learned_seconds.max(o.learned_seconds);
        s.lost_events = s.lost_events.max(o.lost_events);
        s.started_before_agent |= o.started_before_agent;
        s.deviations = s.deviations.max(o.deviations);
        s.unstable |= o.unstable;
        for (k, n) in &o.overflow {
            let e = s.overflow.entry(k.clone()).or_default();
            *e = (*e).max(*n);
        }
        if s.first_seen.is_none() || (o.first_seen.is_some() && o.first_seen < s.first_seen) {
            s.first_seen.clone_from(&o.first_seen);
        }
        if o.last_new_item > s.last_new_item {
            s.last_new_item.clone_from(&o.last_new_item);
        }
    }
}

/// Whether `set` holds `prefix` followed by `*` alone. In the set's order
/// that entry follows `prefix` and whatever continues it with a byte below
/// `*` (space, `!` to `)`), which are skipped.
fn has_star_after(set: &BTreeSet<String>, prefix: &str) -> bool {
    use std::ops::Bound;
    for s in set.range::<str, _>((Bound::Included(prefix), Bound::Unbounded)) {
        let Some(rest) = s.strip_prefix(prefix) else { return false };
        match rest.as_bytes() {
            b"*" => return true,
            [c, ..] if *c > b'*' => return false,
            _ => {}
        }
    }
    false
}

/// Whether the broader form `general` (ending in `*`) covers `text`.
fn covers(general: &str, text: &str) -> bool {
    let prefix = general.trim_end_matches('*');
    text.strip_prefix(prefix).is_some_and(|rest| !rest.contains('/') && !rest.contains(' '))
}

/// The broader form to learn instead of `item` when its directory (host,
/// network) already has [`FANOUT`] children in the set.
fn collapse_target(set: &BTreeSet<String>, item: &Item) -> Option<String> {
    let general = match item.kind {
        ItemKind::Write | ItemKind::Read => item::parent_glob(&item.text)?,
        // Ports of one host, then ports of a listener.
        ItemKind::Connect => {
            let (head, _) = item.text.rsplit_once(':')?;
            format!("{head}:*")
        }
        ItemKind::Listen => format!("{} *", item.text.split_once(' ')?.0),
        ItemKind::Exec | ItemKind::Syscall => return None,
    };
    let prefix = general.trim_end_matches('*');
    let siblings =
        set.range(prefix.to_owned()..).take_while(|s| s.starts_with(prefix)).filter(|s| covers(&general, s)).count();
    (siblings >= FANOUT).then_some(general)
}
