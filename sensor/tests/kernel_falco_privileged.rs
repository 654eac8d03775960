//! Falco's upstream rules about privileged containers end to end on the
//! real kernel, in a privileged pod of a private containerd over CRI
//! (`securityContext.privileged`, `--runtime-socket cri:...`). Docker's
//! `--privileged` cannot start here (it asks for every capability the
//! kernel knows, and the machine lacks `CAP_SYS_RESOURCE`); containerd
//! grants every capability the machine has. The pod shares the host's
//! network but does nothing with it; its `mount` only covers the
//! container's own /tmp in its own mount namespace.
#![allow(clippy::unwrap_used)]
// Each test binds sensor, tag, alert (s, t, a): one letter per role.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;

use falco::runtime_support::{ContainerdEnv, CriPodOptions, skip_or_fail, start_cri_pod_with};
use sensor::enrich::runtime::CriClient;
use sensor::enrich::runtime::cri_v1::ExecSyncRequest;

use falco::{assert_field, expect, field, helper_as, tag, tag_arg, tagged, tagged_dir};

/// Runs `cmd` in container `id` through CRI's `ExecSync` (as `kubectl
/// exec` does); its exit code.
async fn exec(env: &ContainerdEnv, id: &str, cmd: &[&str]) -> i32 {
    let client = CriClient::connect(&env.socket).await.unwrap();
    let req = ExecSyncRequest {
        container_id: id.to_owned(),
        cmd: cmd.iter().map(|c| (*c).to_owned()).collect(),
        timeout: 20,
    };
    client.runtime_service().exec_sync(req).await.unwrap().into_inner().exit_code
}

#[test]
fn privileged_pod_starts_mounts_and_runs_debugfs() {
    if !common::kernel_tests_can_run() || falco::helper().is_none() {
        return;
    }
    let env = match ContainerdEnv::start() {
        Ok(e) => e,
        Err(why) => return skip_or_fail(&format!("containerd cannot run: {why}")),
    };
    env.import_images().unwrap();
    let socket = format!("cri:{}", env.socket.display());
    let Some(s) = falco::start(&["--runtime-socket", &socket]) else { return };
    // debugfs: a copy of the helper under that name, from a read-only host
    // mount (not the container's upper layer: no drift rule applies).
    let t = tag("privpod");
    let tools = tagged_dir(&t);
    helper_as(tools.path(), "debugfs");
    // The image's busybox has no `mount` link: one in the tools mount.
    std::os::unix::fs::symlink("/bin/busybox", tools.path().join("mount")).unwrap();
    let host = tools.path().display().to_string();
    let opts = CriPodOptions { privileged: true, mounts: &[(&host, "/opt/tools")] };
    let uid = "7d1c0e4f-bbbb-4ccc-8ddd-0123456789ab";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The container's init (pid 1 inside) carries the tag: `sh -c SCRIPT TAG`.
    // (`; :`: a lone command would replace the shell.)
    let cmd = ["/bin/sh", "-c", "sleep 3600; :", t.as_str()];
    let (_sandbox, id) =
        rt.block_on(start_cri_pod_with(&env, ("priv-0", "falco", uid), &[], "app", &cmd, &opts)).unwrap();
    let short = id[..12].to_owned();
    let from = |t: &str| {
        let (t, short) = (t.to_owned(), short.clone());
        move |a: &serde_json::Value| tagged(&t)(a) && field(a, "container.id").as_str() == Some(short.as_str())
    };

    // Its start: privileged, root, every capability the machine has. Any
    // container start also matches Launch Sensitive Mount Container (see
    // kernel_falco_container.rs: its macro is true when no /proc mount
    // exists, as in Falco).
    let a = expect(
        &s,
        from(&t),
        &[
            "Launch Privileged Container",
            "Container Run as Root User",
            "Launch Excessively Capable Container",
            "Launch Sensitive Mount Container",
        ],
    );
    let a = &a["Launch Privileged Container"];
    assert_field(a, "proc.name", "sh");
    assert_eq!(field(a, "user.uid"), 0, "{a}");

    // mount in the privileged container (tmpfs over its own /tmp).
    let mt = tag("privmount");
    assert_eq!(rt.block_on(exec(&env, &id, &["/opt/tools/mount", "-t", "tmpfs", &mt, "/tmp"])), 0);
    let a = expect(&s, from(&mt), &["Mount Launched in Privileged Container"]);
    let a = &a["Mount Launched in Privileged Container"];
    assert_field(a, "proc.name", "mount");
    assert_field(a, "proc.cmdline", &format!("mount -t tmpfs {mt} /tmp"));

    // debugfs in the privileged container.
    let dt = tag("privdebugfs");
    rt.block_on(exec(&env, &id, &["/opt/tools/debugfs", "true", &tag_arg(&dt)]));
    let a = expect(&s, from(&dt), &["Debugfs Launched in Privileged Container"]);
    let a = &a["Debugfs Launched in Privileged Container"];
    assert_field(a, "proc.name", "debugfs");
    assert_field(a, "proc.exepath", "/opt/tools/debugfs");
    // The pod goes (its tasks killed) before the directory it mounts.
    drop(env);
    drop(tools);
}
