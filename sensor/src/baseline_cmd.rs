//! `sensor baseline ...` and the baseline flags of `sensor run` and
//! `sensor replay` (binary-only: declared by main.rs).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args as ClapArgs, Subcommand};
use sensor::detect::baseline::{BaselineConfig, Baselines, cluster, review};
use sensor::rules::RuleSelection;

/// Default profile directory (the `DaemonSet` mounts a hostPath there).
pub const DEFAULT_DIR: &str = "/var/lib/sensor/baselines";

// The flags' names are `--baseline-*`: clap derives them from the fields.
#[allow(clippy::struct_field_names)]
#[derive(ClapArgs, Clone)]
pub struct BaselineArgs {
    /// Learn a profile per workload and alert on what it never did
    /// (`rules/70_baseline.yaml`); profiles persist in DIR.
    #[arg(long, value_name = "DIR")]
    baseline_dir: Option<PathBuf>,
    /// How long a profile learns (watched time: `30s`, `10m`, `24h`) before
    /// it enforces.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    baseline_learn: Duration,
    /// Events a profile must have seen before it enforces.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    baseline_min_events: u64,
    /// Items per list of one profile (executables, writes, reads,
    /// destinations, ports, syscalls); more are counted, not learned, and
    /// mark the profile partial.
    #[arg(long, value_name = "N", default_value_t = 512)]
    baseline_max_items: usize,
    /// Profiles for containers only, not for host processes.
    #[arg(long)]
    baseline_containers_only: bool,
    /// How often changed profiles are merged into the cluster's
    /// `SensorProfile` objects (with cluster credentials).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    baseline_share_every: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s.parse().map_err(|e| format!("{s:?}: {e} (e.g. 30s, 10m, 24h)"))?;
    Duration::try_from(d).map_err(|_| format!("{s:?}: negative"))
}

impl BaselineArgs {
    /// With baselines on, the deviation rules (tag `baseline`, off by
    /// default) are enabled first, so a later `--disable-rule` still wins.
    pub fn enable_rules(&self, select: &mut Vec<RuleSelection>) {
        if self.baseline_dir.is_some() {
            select.insert(0, RuleSelection::enable_tag("baseline"));
        }
    }

    /// The baselines these flags ask for, loaded from their directory.
    pub fn open(&self, boot_to_unix_ns: i128) -> anyhow::Result<Option<Baselines>> {
        let Some(dir) = &self.baseline_dir else { return Ok(None) };
        let cfg = BaselineConfig {
            dir: Some(dir.clone()),
            learn_for: self.baseline_learn,
            min_events: self.baseline_min_events,
            hosts: !self.baseline_containers_only,
            max_items: self.baseline_max_items,
            share_every: self.baseline_share_every,
            ..BaselineConfig::default()
        };
        let b =
            Baselines::open(cfg, boot_to_unix_ns).with_context(|| format!("baseline profiles in {}", dir.display()))?;
        Ok(Some(b))
    }
}

/// Shares the profiles through the Kubernetes API when there are cluster
/// credentials (the pod watch's: `KUBECONFIG` or the in-cluster service
/// account); otherwise they stay on this node, said once. Image profiles go
/// to `POD_NAMESPACE` (the `DaemonSet`'s own, default `sensor`).
pub async fn share(b: &mut Baselines) {
    let client = match sensor::enrich::k8s::client_from_env().await {
        Ok(Some(c)) => c,
        Ok(None) => {
            log::info!("baseline: no cluster credentials, profiles stay on this node");
            return;
        }
        Err(e) => {
            log::warn!("baseline: Kubernetes API unusable ({e}), profiles stay on this node");
            return;
        }
    };
    let namespace = std::env::var("POD_NAMESPACE").ok().filter(|n| !n.is_empty()).unwrap_or_else(|| "sensor".into());
    let (push_tx, push_rx) = tokio::sync::mpsc::unbounded_channel();
    let (remote_tx, remote_rx) = std::sync::mpsc::channel();
    let max_items = b.config().max_items;
    let stats = cluster::spawn(client, namespace.clone(), max_items, push_rx, remote_tx);
    b.attach_cluster(push_tx, remote_rx, stats);
    log::info!("baseline: profiles shared through the Kubernetes API (SensorProfile; image profiles in {namespace})");
}

#[derive(Subcommand)]
pub enum BaselineCmd {
    /// Every profile: status, events, items, learned time, deviations, and
    /// why it is partial.
    List(DirArg),
    /// One profile (object name or key, e.g. `pod:prod/Deployment/web/app`)
    /// as YAML.
    Show {
        #[command(flatten)]
        dir: DirArg,
        selector: String,
    },
    /// Profiles as `SensorProfile` YAML documents (all, or those selected):
    /// `kubectl apply -f` takes them once deploy/'s CRD is installed.
    Export {
        #[command(flatten)]
        dir: DirArg,
        selectors: Vec<String>,
    },
    /// Merges the profiles of a YAML file into the directory (`--replace`:
    /// the file's version replaces ours).
    Import {
        #[command(flatten)]
        dir: DirArg,
        file: PathBuf,
        #[arg(long)]
        replace: bool,
    },
    /// Freezes profiles: they enforce and learn no more.
    Approve {
        #[command(flatten)]
        dir: DirArg,
        selector: String,
    },
    /// Deletes profiles: their workloads learn again from nothing.
    Reset {
        #[command(flatten)]
        dir: DirArg,
        selector: String,
    },
}

#[derive(ClapArgs)]
pub struct DirArg {
    /// The profile directory (`sensor run --baseline-dir`).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
}

pub fn run(cmd: BaselineCmd) -> anyhow::Result<()> {
    let say = |verb: &str, keys: Vec<String>| {
        for k in keys {
            println!("{verb} {k}");
        }
    };
    match cmd {
        BaselineCmd::List(d) => print!("{}", review::list(&d.dir)?),
        BaselineCmd::Show { dir, selector } => print!("{}", review::export(&dir.dir, &[selector])?),
        BaselineCmd::Export { dir, selectors } => print!("{}", review::export(&dir.dir, &selectors)?),
        BaselineCmd::Import { dir, file, replace } => {
            say("imported", review::import(&dir.dir, &file, replace, BaselineConfig::default().max_items)?);
        }
        BaselineCmd::Approve { dir, selector } => say("approved", review::approve(&dir.dir, &selector)?),
        BaselineCmd::Reset { dir, selector } => say("reset", review::reset(&dir.dir, &selector)?),
    }
    Ok(())
}
