//! Falco's upstream rules end to end on the real kernel: file behaviours
//! on the host. Writes to system directories (/etc, /usr/sbin, /root,
//! /dev, ...) happen in a private mount namespace over a tmpfs mounted
//! there, so the host's directories are never touched; everything else in
//! a temp dir whose path carries the test's tag.
#![allow(clippy::unwrap_used)]
// Each test binds sensor, tag, alert, event, field (s, t, a, e, f): one
// letter per role, the same in every test.
#![allow(clippy::many_single_char_names)]

mod common;
mod falco;

use std::process::Command;
use std::sync::OnceLock;

use common::Sensor;
use falco::{
    assert_field, assert_field_contains, expect, helper_as, in_mountns, run, tag, tag_arg, tagged, tagged_dir,
};

fn sensor() -> Option<&'static Sensor> {
    static S: OnceLock<Option<Sensor>> = OnceLock::new();
    S.get_or_init(|| {
        let s = falco::start(&[])?;
        falco::helper()?;
        Some(s)
    })
    .as_ref()
}

/// In a private mount namespace: a tmpfs over `dir`, then `HELPER ARGS`
/// with the tag as its last argument (only the helper's command line holds
/// it).
fn helper_over_tmpfs(dir: &str, prepare: &str, helper: &std::path::Path, args: &str, t: &str) {
    let script = format!("mount -t tmpfs falco-test {dir} && {prepare} exec \"$HELPER\" {args} \"--tag=$TAG\"");
    in_mountns(&script, &[("HELPER", helper.to_str().unwrap()), ("TAG", t)]);
}

// ------------------------------------------------------------- stable

#[test]
fn directory_traversal_to_etc() {
    let Some(s) = sensor() else { return };
    let t = tag("traversal");
    let d = tagged_dir(&t);
    std::fs::create_dir(d.path().join("a")).unwrap();
    // A web app fooled into `<root>/a/../../../etc/hostname`.
    let raw = format!("{}/a/../../../etc/hostname", d.path().display());
    let app = helper_as(d.path(), "webapp");
    falco::run_ok(Command::new(&app).args(["open-read", &raw, &tag_arg(&t)]));
    let a = expect(s, tagged(&t), &["Directory traversal monitored file read"]);
    let a = &a["Directory traversal monitored file read"];
    assert_field(a, "fd.name", "/etc/hostname");
    assert_field(a, "fd.nameraw", &raw);
    assert_field(a, "proc.name", "webapp");
}

#[test]
fn log_file_truncated() {
    let Some(s) = sensor() else { return };
    let t = tag("clearlog");
    let d = tagged_dir(&t);
    let log = d.path().join("syslog");
    std::fs::write(&log, "Dec  2 10:00:00 host sshd[1]: Accepted password for root\n").unwrap();
    let p = helper_as(d.path(), "logwiper");
    falco::run_ok(Command::new(&p).arg("open-write").arg(&log).arg(tag_arg(&t)));
    let a = expect(s, tagged(&t), &["Clear Log Activities"]);
    let a = &a["Clear Log Activities"];
    assert_field(a, "fd.name", log.to_str().unwrap());
    assert_field(a, "proc.name", "logwiper");
}

#[test]
fn symlink_over_a_sensitive_file() {
    let Some(s) = sensor() else { return };
    let t = tag("symlink");
    let d = tagged_dir(&t);
    let link = d.path().join("shadow-link");
    falco::run_ok(Command::new("ln").args(["-s", "/etc/shadow"]).arg(&link));
    let a = expect(s, tagged(&t), &["Create Symlink Over Sensitive Files"]);
    let a = &a["Create Symlink Over Sensitive Files"];
    assert_field(a, "evt.arg.target", "/etc/shadow");
    assert_field(a, "evt.arg.linkpath", link.to_str().unwrap());
}

#[test]
fn hardlink_over_a_sensitive_file() {
    let Some(s) = sensor() else { return };
    let t = tag("hardlink");
    let d = tagged_dir(&t);
    // Into a directory that does not exist: the attempt fails (ENOENT) and
    // no second name of /etc/shadow is ever made; the rule keys on the call.
    let link = d.path().join("missing/shadow");
    run(Command::new("ln").arg("/etc/shadow").arg(&link));
    let a = expect(s, tagged(&t), &["Create Hardlink Over Sensitive Files"]);
    let a = &a["Create Hardlink Over Sensitive Files"];
    assert_field(a, "evt.arg.oldpath", "/etc/shadow");
    assert_field(a, "evt.arg.newpath", link.to_str().unwrap());
}

// --------------------------------------------------------- incubating

#[test]
fn shell_configuration_modified() {
    let Some(s) = sensor() else { return };
    let t = tag("bashrc");
    let d = tagged_dir(&t);
    let rc = d.path().join(".bashrc");
    std::fs::write(&rc, "alias ll='ls -l'\n").unwrap();
    let p = helper_as(d.path(), "persist");
    falco::run_ok(Command::new(&p).arg("open-append").arg(&rc).arg(tag_arg(&t)));
    let a = expect(s, tagged(&t), &["Modify Shell Configuration File"]);
    assert_field(&a["Modify Shell Configuration File"], "fd.name", rc.to_str().unwrap());
}

#[test]
fn crontab_scheduled() {
    let Some(s) = sensor() else { return };
    let t = tag("crontab");
    let d = tagged_dir(&t);
    let crontab = d.path().join("crontab");
    std::os::unix::fs::symlink("/bin/busybox", &crontab).unwrap();
    // busybox crontab, its spool directory the test's own.
    run(Command::new(&crontab).arg("-l").arg("-c").arg(d.path()));
    let a = expect(s, tagged(&t), &["Schedule Cron Jobs"]);
    let a = &a["Schedule Cron Jobs"];
    assert_field(a, "proc.name", "crontab");
    assert_field(a, "evt.type", "execve");
}

#[test]
fn ssh_keys_and_directory_read() {
    let Some(s) = sensor() else { return };
    let t = tag("sshread");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "keyreader");
    // A user's private key under /home and root's .ssh directory, both on
    // tmpfs in a private mount namespace; then ls of the directory
    // (O_DIRECTORY: fd.typechar 'd', the rule's open_directory).
    let script = "mount -t tmpfs falco-test /home && mount -t tmpfs falco-test /root \
        && mkdir -p /home/falcouser/.ssh /root/.ssh && : > /home/falcouser/.ssh/id_ed25519 \
        && \"$HELPER\" open-read /home/falcouser/.ssh/id_ed25519 \"--tag=$TAG\" && exec ls /root/.ssh \"$DIR\"";
    in_mountns(script, &[("HELPER", p.to_str().unwrap()), ("TAG", &t), ("DIR", d.path().to_str().unwrap())]);
    let a = expect(s, tagged(&t), &["Read ssh information"]);
    assert_field(&a["Read ssh information"], "fd.name", "/home/falcouser/.ssh/id_ed25519");
    s.wait_for("ls of /root/.ssh", |a| {
        a["rule"] == "Read ssh information"
            && falco::field(a, "proc.name") == "ls"
            && falco::field(a, "fd.name") == "/root/.ssh"
            && tagged(&t)(a)
    });
}

#[test]
fn file_created_below_dev() {
    let Some(s) = sensor() else { return };
    let t = tag("devfile");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "devwriter");
    helper_over_tmpfs("/dev", "", &p, "open-write /dev/falco-test-node", &t);
    let a = expect(s, tagged(&t), &["Create files below dev"]);
    assert_field(&a["Create files below dev"], "fd.name", "/dev/falco-test-node");
}

#[test]
fn shell_history_deleted() {
    let Some(s) = sensor() else { return };
    let t = tag("history");
    let d = tagged_dir(&t);
    let h = d.path().join(".bash_history");
    std::fs::write(&h, "ls\n").unwrap();
    falco::run_ok(Command::new("rm").arg(&h));
    let a = expect(s, tagged(&t), &["Delete or rename shell history"]);
    let a = &a["Delete or rename shell history"];
    assert_field(a, "evt.arg.name", h.to_str().unwrap());
    assert_field(a, "proc.name", "rm");
}

#[test]
fn setuid_bit_set() {
    let Some(s) = sensor() else { return };
    let t = tag("suid");
    let d = tagged_dir(&t);
    let f = d.path().join("prog");
    std::fs::write(&f, b"").unwrap();
    falco::run_ok(Command::new("chmod").arg("u+s").arg(&f));
    let a = expect(s, tagged(&t), &["Set Setuid or Setgid bit"]);
    let a = &a["Set Setuid or Setgid bit"];
    assert_field_contains(a, "evt.arg.mode", "S_ISUID");
    assert_field(a, "evt.arg.filename", f.to_str().unwrap());
}

#[test]
fn ssh_key_added_to_authorized_keys() {
    let Some(s) = sensor() else { return };
    let t = tag("authkeys");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "keyadder");
    helper_over_tmpfs(
        "/home",
        "mkdir -p /home/falcouser/.ssh &&",
        &p,
        "open-write /home/falcouser/.ssh/authorized_keys",
        &t,
    );
    // A write into a user's .ssh is also a write below a monitored
    // directory, and creating a file below `/.ssh/` creates a hidden one.
    let a = expect(
        s,
        tagged(&t),
        &["Adding ssh keys to authorized_keys", "Write below monitored dir", "Create Hidden Files or Directories"],
    );
    assert_field(&a["Adding ssh keys to authorized_keys"], "fd.name", "/home/falcouser/.ssh/authorized_keys");
}

#[test]
fn sshd_loads_backdoored_liblzma() {
    let Some(s) = sensor() else { return };
    let t = tag("liblzma");
    let d = tagged_dir(&t);
    let lib = d.path().join("liblzma.so.5.6.1");
    std::fs::write(&lib, b"").unwrap();
    let sshd = helper_as(d.path(), "sshd");
    falco::run_ok(Command::new(&sshd).arg("open-read").arg(&lib).arg(tag_arg(&t)));
    let rule = "Backdoored library loaded into SSHD (CVE-2024-3094)";
    let a = expect(s, tagged(&t), &[rule]);
    assert_field(&a[rule], "fd.name", lib.to_str().unwrap());
    assert_field(&a[rule], "proc.name", "sshd");
}

// ------------------------------------------------------------ sandbox

#[test]
fn shell_configuration_read() {
    let Some(s) = sensor() else { return };
    let t = tag("readrc");
    let d = tagged_dir(&t);
    let rc = d.path().join(".profile");
    std::fs::write(&rc, "PATH=$PATH\n").unwrap();
    let p = helper_as(d.path(), "reader");
    falco::run_ok(Command::new(&p).arg("open-read").arg(&rc).arg(tag_arg(&t)));
    let a = expect(s, tagged(&t), &["Read Shell Configuration File"]);
    assert_field(&a["Read Shell Configuration File"], "fd.name", rc.to_str().unwrap());
}

#[test]
fn package_repository_added() {
    let Some(s) = sensor() else { return };
    let t = tag("aptrepo");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "repoadder");
    helper_over_tmpfs("/etc/apt/sources.list.d", "", &p, "open-write /etc/apt/sources.list.d/falco-test.list", &t);
    // A write below /etc is also Write below etc.
    let a = expect(s, tagged(&t), &["Update Package Repository", "Write below etc"]);
    assert_field(&a["Update Package Repository"], "fd.name", "/etc/apt/sources.list.d/falco-test.list");
}

#[test]
fn write_below_binary_dir() {
    let Some(s) = sensor() else { return };
    let t = tag("bindir");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "dropper");
    helper_over_tmpfs("/usr/sbin", "", &p, "open-write /usr/sbin/falco-test", &t);
    let a = expect(s, tagged(&t), &["Write below binary dir"]);
    assert_field(&a["Write below binary dir"], "fd.name", "/usr/sbin/falco-test");
}

#[test]
fn write_below_monitored_dir() {
    let Some(s) = sensor() else { return };
    let t = tag("monitored");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "dropper");
    helper_over_tmpfs("/usr/local/bin", "", &p, "open-write /usr/local/bin/falco-test", &t);
    let a = expect(s, tagged(&t), &["Write below monitored dir"]);
    assert_field(&a["Write below monitored dir"], "fd.name", "/usr/local/bin/falco-test");
}

#[test]
fn write_below_etc() {
    let Some(s) = sensor() else { return };
    let t = tag("etc");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "etcwriter");
    helper_over_tmpfs("/etc/opt", "", &p, "open-write /etc/opt/falco-test.conf", &t);
    let a = expect(s, tagged(&t), &["Write below etc"]);
    let a = &a["Write below etc"];
    assert_field(a, "fd.name", "/etc/opt/falco-test.conf");
    assert_field(a, "proc.name", "etcwriter");
}

#[test]
fn write_below_root() {
    let Some(s) = sensor() else { return };
    let t = tag("root");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "rootwriter");
    helper_over_tmpfs("/root", "", &p, "open-write /root/falco-test", &t);
    let a = expect(s, tagged(&t), &["Write below root"]);
    assert_field(&a["Write below root"], "fd.name", "/root/falco-test");
}

#[test]
fn write_below_rpm_database() {
    let Some(s) = sensor() else { return };
    let t = tag("rpmdb");
    let d = tagged_dir(&t);
    let p = helper_as(d.path(), "rpmwriter");
    helper_over_tmpfs("/var/lib", "mkdir /var/lib/rpm &&", &p, "open-write /var/lib/rpm/Packages", &t);
    let a = expect(s, tagged(&t), &["Write below rpm database"]);
    assert_field(&a["Write below rpm database"], "fd.name", "/var/lib/rpm/Packages");
}

#[test]
fn binary_removed_from_a_binary_dir() {
    let Some(s) = sensor() else { return };
    let t = tag("rmbin");
    // sh creates the file (its command line has no tag); rm removes it,
    // the tag an argument that -f ignores.
    let script = "mount -t tmpfs falco-test /usr/sbin && : > /usr/sbin/falco-test \
        && exec rm -f /usr/sbin/falco-test \"/nonexistent/$TAG\"";
    in_mountns(script, &[("TAG", &t)]);
    let a = expect(s, tagged(&t), &["Modify binary dirs"]);
    let a = &a["Modify binary dirs"];
    assert_field(a, "proc.name", "rm");
    assert_field_contains(a, "evt.args", "/usr/sbin/falco-test");
}

#[test]
fn directory_made_in_a_binary_dir() {
    let Some(s) = sensor() else { return };
    let t = tag("mkdirbin");
    in_mountns("mount -t tmpfs falco-test /usr/sbin && exec mkdir \"/usr/sbin/$TAG\"", &[("TAG", &t)]);
    let a = expect(s, tagged(&t), &["Mkdir binary dirs"]);
    assert_field(&a["Mkdir binary dirs"], "evt.arg.path", &format!("/usr/sbin/{t}"));
}

#[test]
fn hidden_file_created() {
    let Some(s) = sensor() else { return };
    let t = tag("hidden");
    let d = tagged_dir(&t);
    let f = d.path().join(".hidden");
    let p = helper_as(d.path(), "hider");
    falco::run_ok(Command::new(&p).arg("open-write").arg(&f).arg(tag_arg(&t)));
    let a = expect(s, tagged(&t), &["Create Hidden Files or Directories"]);
    assert_field(&a["Create Hidden Files or Directories"], "fd.name", f.to_str().unwrap());
}
