//! Where the API server is, and which node this is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::K8sError;

/// Service-account token mounted into every pod that has one.
pub const SERVICE_ACCOUNT_TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// Where the client configuration comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// `KUBECONFIG` names these files (merged as kubectl does).
    Kubeconfig(Vec<PathBuf>),
    /// `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted service account.
    InCluster,
}

/// Decide the source: an explicit `KUBECONFIG` wins (running on a host for
/// development), then the in-cluster service account (the `DaemonSet` case).
/// `~/.kube/config` is deliberately NOT used: an admin kubeconfig lying on a
/// node must not silently turn host mode into a cluster client.
#[must_use]
pub fn detect_source(
    kubeconfig_env: Option<OsString>,
    service_host_env: Option<OsString>,
    token_exists: bool,
) -> Option<ConfigSource> {
    if let Some(kc) = kubeconfig_env.filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&kc).filter(|p| !p.as_os_str().is_empty()).collect();
        if !paths.is_empty() {
            return Some(ConfigSource::Kubeconfig(paths));
        }
    }
    let host_set = service_host_env.is_some_and(|h| !h.is_empty());
    (host_set && token_exists).then_some(ConfigSource::InCluster)
}

/// Build a client from the environment.
///
/// `Ok(None)` means host mode: neither `KUBECONFIG` nor an in-cluster service
/// account is present. The caller should say so once (e.g.
/// `log::info!("k8s: no cluster credentials; host mode")`). An `Err` means
/// credentials are present but unusable.
///
/// Async because reading a kubeconfig may run an auth plugin, and the client
/// spawns its connection task: call it inside the Tokio runtime.
///
/// # Errors
/// [`K8sError::InCluster`] / [`K8sError::Kubeconfig`] when the configuration
/// found cannot be loaded, [`K8sError::Client`] when no client can be built
/// from it.
pub async fn client_from_env() -> Result<Option<Client>, K8sError> {
    let source = detect_source(
        std::env::var_os("KUBECONFIG"),
        std::env::var_os("KUBERNETES_SERVICE_HOST"),
        Path::new(SERVICE_ACCOUNT_TOKEN).exists(),
    );
    let Some(source) = source else {
        return Ok(None);
    };
    let config = match &source {
        ConfigSource::InCluster => Config::incluster().map_err(K8sError::InCluster)?,
        ConfigSource::Kubeconfig(paths) => {
            let mut merged: Option<Kubeconfig> = None;
            for p in paths {
                let kc = Kubeconfig::read_from(p).map_err(|source| K8sError::Kubeconfig { path: p.clone(), source })?;
                merged = Some(match merged {
                    None => kc,
                    Some(m) => m.merge(kc).map_err(|source| K8sError::Kubeconfig { path: p.clone(), source })?,
                });
            }
            let kc = merged.ok_or(K8sError::NoConfig)?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|source| K8sError::Kubeconfig { path: paths.first().cloned().unwrap_or_default(), source })?
        }
    };
    let url = config.cluster_url.to_string();
    let client = Client::try_from(config).map_err(|source| K8sError::Client { url, source })?;
    Ok(Some(client))
}

/// This node's name: `NODE_NAME` (set by the `DaemonSet` from the downward API,
/// `fieldRef: spec.nodeName`), else the hostname lower-cased, as the kubelet
/// derives it when `--hostname-override` is not set.
///
/// # Errors
/// [`K8sError::NodeName`] when neither is available.
pub fn node_name_from_env() -> Result<String, K8sError> {
    node_name_from(std::env::var("NODE_NAME").ok(), read_hostname)
}

fn read_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"].iter().find_map(|p| std::fs::read_to_string(p).ok())
}

/// Testable core of [`node_name_from_env`].
///
/// # Errors
/// [`K8sError::NodeName`] when neither source gives a name.
pub fn node_name_from(env: Option<String>, hostname: impl FnOnce() -> Option<String>) -> Result<String, K8sError> {
    if let Some(n) = env.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        return Ok(n);
    }
    hostname().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).ok_or(K8sError::NodeName)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_detection() {
        assert_eq!(detect_source(None, None, true), None);
        assert_eq!(detect_source(None, Some("10.0.0.1".into()), false), None, "no token");
        assert_eq!(detect_source(None, Some("".into()), true), None);
        assert_eq!(detect_source(None, Some("10.0.0.1".into()), true), Some(ConfigSource::InCluster));
        assert_eq!(
            detect_source(Some("/a:/b".into()), Some("10.0.0.1".into()), true),
            Some(ConfigSource::Kubeconfig(vec!["/a".into(), "/b".into()]))
        );
        assert_eq!(detect_source(Some("".into()), None, false), None);
    }

    #[test]
    fn node_name_fallbacks() {
        let host = || Some("Worker-1\n".to_owned());
        assert_eq!(node_name_from(Some("node-a".into()), host).unwrap(), "node-a");
        assert_eq!(node_name_from(Some("  ".into()), host).unwrap(), "worker-1");
        assert_eq!(node_name_from(None, host).unwrap(), "worker-1");
        assert!(matches!(node_name_from(None, || None), Err(K8sError::NodeName)));
    }

    #[tokio::test]
    async fn kubeconfig_file_gives_client_for_its_server() {
        // A kubeconfig pointing at loopback; no request is made.
        let dir = std::env::temp_dir().join(format!("k8s-dev-kc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        std::fs::write(&path, include_str!("testdata/kubeconfig.yaml")).unwrap();
        let kc = Kubeconfig::read_from(&path).unwrap();
        let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.unwrap();
        assert_eq!(cfg.cluster_url.to_string(), "http://127.0.0.1:6443/");
        assert!(Client::try_from(cfg).is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
