//! The command line of the response stage: `sensor run --enforce`, the
//! responder's start (the kernel's maps, `bpf_send_signal` probed), and
//! `sensor rules actions` (a dry run of the rules' actions).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args as ClapArgs;
use log::{info, warn};
use sensor::config::Config;
use sensor::kernel::programs::Loaded;
use sensor::kernel::response::KillMaps;
use sensor::metrics::Metrics;
use sensor::respond::Responder;
use sensor::respond::policy::Policy;

#[derive(ClapArgs, Clone)]
pub struct ResponseArgs {
    /// Carry out the rules' `actions:` (the configuration's `mode:
    /// enforce`); default: monitor, which reports what would have been done.
    #[arg(long)]
    pub enforce: bool,
}

#[derive(ClapArgs)]
pub struct ActionsArgs {
    /// Rule files or directories, loaded after the built-in rules.
    paths: Vec<PathBuf>,
    /// Do not load the built-in rules.
    #[arg(long)]
    no_default_rules: bool,
    /// The configuration whose `mode` and `response` apply.
    #[arg(long)]
    config: Option<PathBuf>,
    /// As `sensor run --enforce` would.
    #[arg(long)]
    enforce: bool,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// The policy of a configuration, with `--enforce` over its mode.
pub fn policy(cfg: &Config, enforce: bool) -> Policy {
    sensor::config::response::policy(cfg.mode, cfg.response.as_ref(), enforce)
}

/// The exec program's response maps, when this kernel lets tracing
/// programs send signals; otherwise kills go through pidfds, said once.
fn kernel_maps(loaded: &mut Loaded) -> Option<KillMaps> {
    if let Err(e) = sensor::kernel::preflight::send_signal() {
        warn!("response: bpf_send_signal unavailable ({e}): kill_process falls back to user space (pidfd)");
        return None;
    }
    match KillMaps::take(&mut loaded.ebpf) {
        Ok(m) => Some(m),
        Err(e) => {
            warn!("response: {}: kill_process falls back to user space (pidfd)", sensor::error_chain(&e));
            None
        }
    }
}

/// `sensor run`'s response stage, with the configuration's policy
/// (`--enforce` over its mode), armed with `rules`.
pub async fn start(
    loaded: &mut Loaded,
    cfg: &Config,
    enforce: bool,
    metrics: &Metrics,
    rules: &sensor::rules::RuleSet,
) -> Responder {
    let policy = policy(cfg, enforce);
    if policy.enforces_anywhere() {
        check_privileges(rules);
    }
    let contain = contain(policy.delete_pods).await;
    let opens = open_kills(loaded, &policy, rules);
    let mut r = responder(loaded, policy, metrics).with_contain(contain).with_open_kills(opens);
    r.set_rules(rules);
    r
}

/// What enforcing the loaded rules' actions needs beyond the sensor's
/// own capabilities, checked once at start by doing it: a signal to
/// another user's process (`CAP_KILL`) for kills in user space, a writable
/// cgroup hierarchy for `kill_container`. Each missing one is said once,
/// naming what fixes it; its actions then fail with their own alerts.
fn check_privileges(rules: &sensor::rules::RuleSet) {
    use sensor::kernel::preflight;
    use sensor::rules::Action;
    let armed = |a: Action| rules.rules().iter().any(|r| r.enabled && r.actions.contains(&a));
    if armed(Action::KillProcess) {
        match preflight::signal_other_users() {
            Some((pid, Err(e))) => warn!(
                "response: check signal_other_users: kill({pid}, 0) of another user's process failed: {e}: missing \
                 CAP_KILL (needed for kill_process in user space: other users' processes cannot be killed; \
                 deploy/overlays/enforce adds it)"
            ),
            Some((_, Ok(()))) => info!("response: check signal_other_users passed"),
            None => info!("response: check signal_other_users not run: no process of another user"),
        }
    }
    if armed(Action::KillContainer) {
        match sensor::kernel::dns_hook::cgroup2_root(None) {
            Ok(root) => {
                if let Err(e) = preflight::cgroup_writable(&root) {
                    warn!(
                        "response: check cgroup_writable: {}: {e}: kill_container cannot write cgroup.kill (mount \
                         the node's cgroup hierarchy writable; deploy/overlays/enforce does)",
                        root.display()
                    );
                }
            }
            Err(e) => warn!("response: check cgroup_writable: no cgroup v2 hierarchy ({e}): kill_container fails"),
        }
    }
}

/// The open kill programs, attached only in enforce mode with a rule the
/// kernel decides at an open (they run at every open's entry); without
/// them such rules kill in user space, after the open.
fn open_kills(
    loaded: &mut Loaded,
    policy: &Policy,
    rules: &sensor::rules::RuleSet,
) -> Option<sensor::kernel::open_kill::OpenKillMaps> {
    use sensor::respond::plan::{KillSite, kill_site};
    let wanted = policy.enforces_anywhere()
        && rules.rules().iter().any(|r| r.enabled && matches!(kill_site(rules, r), Some(KillSite::KernelOpen(_))));
    if !wanted {
        return None;
    }
    if let Err(e) = sensor::kernel::preflight::send_signal() {
        warn!("response: bpf_send_signal unavailable ({e}): kill_process at open falls back to user space (pidfd)");
        return None;
    }
    match sensor::kernel::open_kill::attach(&mut loaded.ebpf) {
        Ok(m) => Some(m),
        Err(e) => {
            warn!("response: {}: kill_process at open falls back to user space (pidfd)", sensor::error_chain(&e));
            None
        }
    }
}

/// The response stage of `sensor run`.
fn responder(loaded: &mut Loaded, policy: Policy, metrics: &Metrics) -> Responder {
    info!(
        "response: mode {}{}",
        policy.mode.as_str(),
        if policy.namespace_modes.is_empty() { "" } else { " (with per-namespace modes)" }
    );
    let maps = kernel_maps(loaded);
    let root = sensor::kernel::dns_hook::cgroup2_root(None).ok();
    let deny = deny_maps(loaded, root.as_deref());
    Responder::new(policy, maps, Some(metrics.response.clone())).with_cgroup_root(root).with_deny(deny)
}

/// The connect programs on the cgroup v2 root and their maps; without
/// them `deny_connect` is reported, not done, said once.
fn deny_maps(loaded: &mut Loaded, root: Option<&std::path::Path>) -> Option<sensor::kernel::deny_hook::DenyMaps> {
    use sensor::kernel::deny_hook;
    let Some(root) = root else {
        warn!("response: no cgroup v2 hierarchy: deny_connect is reported, not done");
        return None;
    };
    let r = deny_hook::attach(&mut loaded.ebpf, root).and_then(|()| deny_hook::DenyMaps::take(&mut loaded.ebpf));
    match r {
        Ok(m) => {
            info!("response: connect4/connect6 on {}", root.display());
            Some(m)
        }
        Err(e) => {
            warn!("response: {}: deny_connect is reported, not done", sensor::error_chain(&e));
            None
        }
    }
}

/// `sensor replay`'s response stage: never acts, its alerts say what the
/// actions would have done.
pub fn replay_responder(cfg: &Config, rules: &sensor::rules::RuleSet) -> Responder {
    let mut policy = policy(cfg, false);
    policy.mode = sensor::respond::policy::Mode::Monitor;
    policy.namespace_modes.clear();
    let mut r = Responder::new(policy, None, None);
    r.set_rules(rules);
    r
}

/// The pod containment task, when Kubernetes credentials are at hand
/// (in-cluster service account or `KUBECONFIG`); otherwise `isolate_pod`
/// is reported as failed, said once.
async fn contain(delete_pods: bool) -> Option<sensor::respond::contain::Contain> {
    match kube::Client::try_default().await {
        Ok(client) => {
            info!("response: isolate_pod through the Kubernetes API{}", if delete_pods { " (and delete)" } else { "" });
            Some(sensor::respond::contain::spawn(&tokio::runtime::Handle::current(), client, delete_pods))
        }
        Err(e) => {
            info!("response: no Kubernetes credentials ({e}): isolate_pod cannot be carried out");
            None
        }
    }
}

/// `sensor rules actions`: false when the rules or the configuration do
/// not load.
pub fn actions(a: &ActionsArgs) -> anyhow::Result<bool> {
    let cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let Some(set) = crate::authoring::rules_of(&a.paths, a.no_default_rules) else { return Ok(false) };
    let dry = sensor::respond::dry_run::dry_run(&set, &policy(&cfg, a.enforce));
    let text = if a.json { serde_json::to_string(&dry)? + "\n" } else { dry.render_text() };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(true)
}
