use std::time::{Duration, Instant};

use super::plan::{KillSite, kernel_plan, kill_site};
use super::policy::{Exempt, Mode, Policy, RateLimit, Target};
use crate::rules::{EngineConfig, RuleSet, RuleText};

fn load(text: &str) -> RuleSet {
    let (set, report) = RuleSet::load_texts(&[RuleText { name: "r.yaml", content: text }], &EngineConfig::default());
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    set.unwrap()
}

fn rule(name: &str, condition: &str, actions: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {condition}\n  output: o %proc.name\n  priority: WARNING\n  actions: {actions}\n"
    )
}

fn site(set: &RuleSet, name: &str) -> Option<KillSite> {
    let r = set.rules().iter().find(|r| r.name == name).unwrap();
    kill_site(set, r)
}

#[test]
fn name_tests_at_exec_go_to_the_kernel_the_rest_to_user_space() {
    let text = [
        rule("eq", "evt.type = execve and proc.name = xmrig", "[kill_process]"),
        rule("in", "evt.type in (execve, execveat) and proc.name in (nc, ncat)", "[kill_process, capture]"),
        rule("more", "evt.type = execve and proc.name = nc and container.id != host", "[kill_process]"),
        rule("open", "evt.type = openat and proc.name = nc", "[kill_process]"),
        rule("long", "evt.type = execve and proc.name = a_name_of_sixteen", "[kill_process]"),
        rule("fifteen", "evt.type = execve and proc.name = fifteen_bytes_x", "[kill_process]"),
        rule("none", "evt.type = execve and proc.name = sh", "[capture]"),
        rule("any", "proc.name = nc", "[kill_process]"),
        rule("path", "evt.type = execve and proc.exepath in (/tmp/x, /usr/sbin/runc)", "[kill_process]"),
        rule("relpath", "evt.type = execve and proc.exepath = x", "[kill_process]"),
    ]
    .concat();
    let set = load(&text);
    assert_eq!(site(&set, "eq"), Some(KillSite::Kernel(vec!["xmrig".into()])));
    assert_eq!(site(&set, "in"), Some(KillSite::Kernel(vec!["nc".into(), "ncat".into()])));
    assert!(matches!(site(&set, "more"), Some(KillSite::UserSpace(_))));
    assert!(matches!(site(&set, "open"), Some(KillSite::UserSpace(_))));
    assert!(matches!(site(&set, "long"), Some(KillSite::UserSpace(_))));
    // 15 bytes could be a longer name cut short by the kernel.
    assert!(matches!(site(&set, "fifteen"), Some(KillSite::UserSpace(_))));
    assert!(matches!(site(&set, "any"), Some(KillSite::UserSpace(_))));
    assert_eq!(site(&set, "none"), None);
    assert_eq!(site(&set, "path"), Some(KillSite::KernelPath(vec!["/tmp/x".into(), "/usr/sbin/runc".into()])));
    assert!(matches!(site(&set, "relpath"), Some(KillSite::UserSpace(_))));
    // The allow-list wins: a rule naming the runtime does not reach the kernel.
    let plan = kernel_plan(&set, &|n| n == "ncat" || n == "runc");
    assert_eq!(plan.names.keys().collect::<Vec<_>>(), ["nc", "xmrig"]);
    // A path whose file name is allow-listed stays out too.
    assert_eq!(plan.paths.keys().collect::<Vec<_>>(), ["/tmp/x"]);
    assert_eq!(plan.rule(plan.names["xmrig"]), Some("eq"));
    assert_eq!(plan.rule(plan.names["nc"]), Some("in"));
    assert_eq!(plan.rule(0), None);
}

#[test]
fn path_tests_at_open_go_to_the_kernel_the_rest_to_user_space() {
    let text = [
        rule("shadow", "evt.type in (open, openat, openat2) and fd.name = /etc/shadow", "[kill_process]"),
        rule(
            "keys",
            "evt.type = openat and fd.name in (/root/.ssh/id_rsa, /etc/kubernetes/admin.conf)",
            "[kill_process]",
        ),
        rule("read", "evt.type = openat and evt.is_open_read = true and fd.name = /etc/shadow", "[kill_process]"),
        rule("rel", "evt.type = openat and fd.name = shadow", "[kill_process]"),
        rule("dots", "evt.type = openat and fd.name = /etc/../etc/shadow", "[kill_process]"),
        rule("slash", "evt.type = openat and fd.name = /etc/", "[kill_process]"),
        rule("mixed", "evt.type in (openat, execve) and fd.name = /etc/shadow", "[kill_process]"),
        rule("differs", "(evt.type = openat and fd.name = /a) or (evt.type = open and fd.name = /b)", "[kill_process]"),
    ]
    .concat();
    let set = load(&text);
    assert_eq!(site(&set, "shadow"), Some(KillSite::KernelOpen(vec!["/etc/shadow".into()])));
    assert_eq!(
        site(&set, "keys"),
        Some(KillSite::KernelOpen(vec!["/etc/kubernetes/admin.conf".into(), "/root/.ssh/id_rsa".into()]))
    );
    for name in ["read", "rel", "dots", "slash", "mixed", "differs"] {
        assert!(matches!(site(&set, name), Some(KillSite::UserSpace(_))), "{name}: {:?}", site(&set, name));
    }
    let plan = kernel_plan(&set, &|_| false);
    assert_eq!(
        plan.opens.keys().collect::<Vec<_>>(),
        ["/etc/kubernetes/admin.conf", "/etc/shadow", "/root/.ssh/id_rsa"]
    );
    assert_eq!(plan.rule(plan.opens["/etc/shadow"]), Some("shadow"));
    assert_eq!(plan.rule(plan.opens["/root/.ssh/id_rsa"]), Some("keys"));
    assert!(plan.names.is_empty() && plan.paths.is_empty());
}

#[test]
fn exceptions_keep_a_rule_in_user_space() {
    let text = "- rule: ex\n  desc: d\n  condition: evt.type = execve and proc.name = nc\n  output: o\n  \
                priority: WARNING\n  actions: [kill_process]\n  exceptions:\n    - name: parent\n      \
                fields: proc.pname\n      values: [bash]\n";
    let set = load(text);
    assert!(matches!(site(&set, "ex"), Some(KillSite::UserSpace(_))));
}

#[test]
fn namespaces_override_the_mode_and_the_allow_list_wins() {
    let mut p = Policy { own_pid: 4242, ..Policy::default() };
    p.namespace_modes.insert("prod".into(), Mode::Enforce);
    assert_eq!(p.mode_for(None), Mode::Monitor);
    assert_eq!(p.mode_for(Some("prod")), Mode::Enforce);
    assert_eq!(p.mode_for(Some("dev")), Mode::Monitor);
    assert!(p.enforces_anywhere());
    let t = |pid, name, namespace| Target { pid, name, namespace };
    assert_eq!(p.exempt(&t(1, "x", None)), Some(Exempt::Pid));
    assert_eq!(p.exempt(&t(4242, "sensor", None)), Some(Exempt::Pid));
    assert_eq!(p.exempt(&t(50, "kubelet", None)), Some(Exempt::Process));
    assert_eq!(p.exempt(&t(50, "nc", Some("kube-system"))), Some(Exempt::Namespace));
    assert_eq!(p.exempt(&t(50, "nc", Some("prod"))), None);
}

#[test]
fn the_rate_limit_refills_over_a_minute() {
    let t0 = Instant::now();
    let mut l = RateLimit::new(2, t0);
    assert!(l.take(t0));
    assert!(l.take(t0));
    assert!(!l.take(t0));
    assert!(!l.take(t0 + Duration::from_secs(10)));
    assert!(l.take(t0 + Duration::from_secs(31)));
    let mut unlimited = RateLimit::new(0, t0);
    assert!((0..1000).all(|_| unlimited.take(t0)));
}

#[test]
fn destination_tests_on_connect_go_to_the_connect_programs() {
    use super::deny::{Denied, DenySite, deny_site};
    use std::net::IpAddr;
    let deny = |c: &str| rule("d", c, "[deny_connect]");
    let site_of = |c: &str| {
        let set = load(&deny(c));
        let r = &set.rules()[0];
        deny_site(&set, r)
    };
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(
        site_of("evt.type = connect and fd.sip = 127.0.0.3 and fd.sport = 4444"),
        Some(DenySite::Kernel(vec![Denied { addr: ip("127.0.0.3"), prefix: 32, port: Some(4444) }]))
    );
    assert_eq!(
        site_of("evt.type = connect and fd.snet in (10.0.0.0/8, fd00::/8)"),
        Some(DenySite::Kernel(vec![
            Denied { addr: ip("10.0.0.0"), prefix: 8, port: None },
            Denied { addr: ip("fd00::"), prefix: 8, port: None },
        ]))
    );
    assert_eq!(
        site_of("evt.type = connect and fd.sport in (23, 2323)").map(|s| match s {
            DenySite::Kernel(d) => d.len(),
            DenySite::NotBefore(_) => 0,
        }),
        Some(4)
    );
    for c in [
        "evt.type = connect and fd.sip = 127.0.0.3 and proc.name = nc",
        "evt.type in (connect, sendto) and fd.sip = 127.0.0.3",
        "evt.type = connect and not fd.sip = 127.0.0.3",
        "evt.type = connect and fd.sip = 127.0.0.3 and fd.sip = 127.0.0.4",
    ] {
        assert!(matches!(site_of(c), Some(DenySite::NotBefore(_))), "{c}");
    }
}
