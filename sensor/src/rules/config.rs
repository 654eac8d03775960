//! Engine configuration (the subset of falco.yaml the rule engine needs).

/// `rule_matching` in falco.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// Stop at the first matching rule for an event (Falco's default).
    #[default]
    First,
    /// Evaluate every rule.
    All,
}

/// A plugin whose fields this sensor provides natively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvidedPlugin {
    pub name: String,
    /// `None`: built in, satisfies any requested version.
    pub version: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Event sources this engine evaluates; rules of other sources are skipped.
    pub sources: Vec<String>,
    pub rule_matching: RuleMatching,
    /// Engine version checked against `required_engine_version`.
    pub engine_version: (u64, u64, u64),
    /// Plugins satisfied for `required_plugin_versions`.
    pub plugins: Vec<ProvidedPlugin>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            sources: vec!["syscall".to_string()],
            rule_matching: RuleMatching::First,
            // The Falco engine version whose semantics we follow.
            engine_version: (0, 63, 0),
            // container.* fields are extracted by the sensor itself.
            plugins: vec![ProvidedPlugin { name: "container".to_string(), version: None }],
        }
    }
}

/// Parses `major.minor.patch` (missing parts are 0; a legacy integer `N`
/// means `0.N.0`).
#[must_use]
pub fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    let s = s.trim();
    if !s.contains('.') {
        return s.parse::<u64>().ok().map(|n| (0, n, 0));
    }
    let core = s.split(['-', '+']).next().unwrap_or(s);
    let mut it = core.split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next().map_or(Some(0), |p| p.parse().ok())?;
    let patch = it.next().map_or(Some(0), |p| p.parse().ok())?;
    if it.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}
