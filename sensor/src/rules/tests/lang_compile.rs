//! What compiles and what libsinsp's filter compiler refuses: operators per
//! field type, values per type, field-to-field comparisons, transformers,
//! list-valued fields, and evaluation of each accepted form.

use super::conformance::{load_error, loads, matches};
use crate::rules::{FieldValue, MapEvent};

// libs userspace/libsinsp/test/filter_compiler.ut.cpp,
// TEST(sinsp_filter_compiler, operators_field_types_compatibility) (thread.cpu left out: no such field here)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn operators_per_field_type() {
    let cases: &[(&str, bool)] = &[
        ("evt.rawtime exists", true),
        ("evt.rawtime = 1", true),
        ("evt.rawtime != 1", true),
        ("evt.rawtime < 1", true),
        ("evt.rawtime <= 1", true),
        ("evt.rawtime > 1", true),
        ("evt.rawtime >= 1", true),
        ("evt.rawtime contains 1", false),
        ("evt.rawtime in (1)", true),
        ("evt.rawtime intersects (1)", true),
        ("evt.rawtime icontains 1", false),
        ("evt.rawtime startswith 1", false),
        ("evt.rawtime glob 1", false),
        ("evt.rawtime pmatch (1)", false),
        ("evt.rawtime endswith 1", false),
        ("evt.rawtime bcontains 303000", false),
        ("evt.rawtime bstartswith 303000", false),
        ("evt.rawtime iglob 1", false),
        ("evt.rawtime regex '1'", false),
        ("evt.is_io exists", true),
        ("evt.is_io = true", true),
        ("evt.is_io != true", true),
        ("evt.is_io < true", false),
        ("evt.is_io <= true", false),
        ("evt.is_io > true", false),
        ("evt.is_io >= true", false),
        ("evt.is_io contains true", false),
        ("evt.is_io in (true)", true),
        ("evt.is_io intersects (true)", true),
        ("evt.is_io icontains true", false),
        ("evt.is_io startswith true", false),
        ("evt.is_io glob true", false),
        ("evt.is_io pmatch (true)", false),
        ("evt.is_io endswith true", false),
        ("evt.is_io bcontains 7472756500", false),
        ("evt.is_io bstartswith 7472756500", false),
        ("evt.is_io iglob true", false),
        ("evt.is_io regex '1'", false),
        ("evt.buffer exists", true),
        ("evt.buffer = test", true),
        ("evt.buffer != test", true),
        ("evt.buffer < 1", false),
        ("evt.buffer <= 2", false),
        ("evt.buffer > 3", false),
        ("evt.buffer >= 4", false),
        ("evt.buffer contains test", true),
        ("evt.buffer in (test)", true),
        ("evt.buffer intersects (test)", true),
        ("evt.buffer icontains test", false),
        ("evt.buffer startswith test", true),
        ("evt.buffer glob test", false),
        ("evt.buffer pmatch (test)", false),
        ("evt.buffer endswith test", true),
        ("evt.buffer bcontains 303000", true),
        ("evt.buffer bstartswith 303000", true),
        ("evt.buffer iglob test", false),
        ("evt.buffer regex '.*'", false),
        ("fd.name exists", true),
        ("fd.name = true", true),
        ("fd.name != true", true),
        ("fd.name < 1", true),
        ("fd.name <= 1", true),
        ("fd.name > 1", true),
        ("fd.name >= 1", true),
        ("fd.name contains true", true),
        ("fd.name in (true)", true),
        ("fd.name intersects (true)", true),
        ("fd.name icontains true", true),
        ("fd.name startswith true", true),
        ("fd.name glob true", true),
        ("fd.name pmatch (true)", true),
        ("fd.name endswith true", true),
        ("fd.name bcontains 303000", false),
        ("fd.name bstartswith 303000", false),
        ("fd.name iglob true", true),
        ("fd.name regex '/home/.*/dev'", true),
        ("evt.cpu exists", true),
        ("evt.cpu = 1", true),
        ("evt.cpu != 1", true),
        ("evt.cpu < 1", true),
        ("evt.cpu <= 1", true),
        ("evt.cpu > 1", true),
        ("evt.cpu >= 1", true),
        ("evt.cpu contains 1", false),
        ("evt.cpu in (1)", true),
        ("evt.cpu intersects (1)", true),
        ("evt.cpu icontains 1", false),
        ("evt.cpu startswith 1", false),
        ("evt.cpu glob 1", false),
        ("evt.cpu pmatch (1)", false),
        ("evt.cpu endswith 1", false),
        ("evt.cpu bcontains 303000", false),
        ("evt.cpu bstartswith 303000", false),
        ("evt.cpu iglob 1", false),
        ("evt.cpu regex '1'", false),
        ("fd.dev exists", true),
        ("fd.dev = 1", true),
        ("fd.dev != 1", true),
        ("fd.dev < 1", true),
        ("fd.dev <= 1", true),
        ("fd.dev > 1", true),
        ("fd.dev >= 1", true),
        ("fd.dev contains 1", false),
        ("fd.dev in (1)", true),
        ("fd.dev intersects (1)", true),
        ("fd.dev icontains 1", false),
        ("fd.dev startswith 1", false),
        ("fd.dev glob 1", false),
        ("fd.dev pmatch (1)", false),
        ("fd.dev endswith 1", false),
        ("fd.dev bcontains 303000", false),
        ("fd.dev bstartswith 303000", false),
        ("fd.dev iglob 1", false),
        ("fd.dev regex '1'", false),
        ("proc.pid exists", true),
        ("proc.pid = 1", true),
        ("proc.pid != 1", true),
        ("proc.pid < 1", true),
        ("proc.pid <= 1", true),
        ("proc.pid > 1", true),
        ("proc.pid >= 1", true),
        ("proc.pid contains 1", false),
        ("proc.pid in (1)", true),
        ("proc.pid intersects (1)", true),
        ("proc.pid icontains 1", false),
        ("proc.pid startswith 1", false),
        ("proc.pid glob 1", false),
        ("proc.pid pmatch (1)", false),
        ("proc.pid endswith 1", false),
        ("proc.pid bcontains 303000", false),
        ("proc.pid bstartswith 303000", false),
        ("proc.pid iglob 1", false),
        ("proc.pid regex '1'", false),
        ("fd.ip exists", true),
        ("fd.ip = 127.0.0.1", true),
        ("fd.ip != 127.0.0.1", true),
        ("fd.ip < 127", false),
        ("fd.ip <= 127", false),
        ("fd.ip > 127", false),
        ("fd.ip >= 127", false),
        ("fd.ip contains 127.0.0.1", false),
        ("fd.ip in (127.0.0.1)", true),
        ("fd.ip intersects (127.0.0.1)", true),
        ("fd.ip icontains 127.0.0.1", false),
        ("fd.ip startswith 127.0.0.1", false),
        ("fd.ip glob 127.0.0.1", false),
        ("fd.ip pmatch (127.0.0.1)", false),
        ("fd.ip endswith 127.0.0.1", false),
        ("fd.ip bcontains 3132372e302e302e3100", false),
        ("fd.ip bstartswith 3132372e302e302e3100", false),
        ("fd.ip iglob 127.0.0.1", false),
        ("fd.ip regex '.*'", false),
        ("fd.ip == anyof (127.0.0.1)", true),
        ("fd.ip == allof (127.0.0.1)", true),
        ("fd.ip != anyof (127.0.0.1)", true),
        ("fd.ip != allof (127.0.0.1)", true),
        ("fd.ip contains anyof (127.0.0.1)", false),
        ("fd.ip regex allof ('.*')", false),
        ("fd.net exists", true),
        ("fd.net = 127.0.0.1/32", true),
        ("fd.net != 127.0.0.1/32", true),
        ("fd.net < 127", false),
        ("fd.net <= 127", false),
        ("fd.net > 127", false),
        ("fd.net >= 127", false),
        ("fd.net contains 127.0.0.1/32", false),
        ("fd.net in (127.0.0.1/32)", true),
        ("fd.net intersects (127.0.0.1/32)", true),
        ("fd.net icontains 127.0.0.1/32", false),
        ("fd.net startswith 127.0.0.1/32", false),
        ("fd.net glob 127.0.0.1/32", false),
        ("fd.net pmatch (127.0.0.1/32)", false),
        ("fd.net endswith 127.0.0.1/32", false),
        ("fd.net bcontains 3132372e302e302e312f333200", false),
        ("fd.net bstartswith 3132372e302e302e312f333200", false),
        ("fd.net iglob 127.0.0.1/32", false),
        ("fd.net regex '.*'", false),
        ("fd.net == anyof (127.0.0.1/32)", true),
        ("fd.net == allof (127.0.0.1/32)", true),
        ("fd.net != anyof (127.0.0.1/32)", true),
        ("fd.net != allof (127.0.0.1/32)", true),
        ("fd.net contains anyof (127.0.0.1/32)", false),
        ("fd.net startswith allof (127.0.0.1/32)", false),
        ("fd.port exists", true),
        ("fd.port = 1", true),
        ("fd.port != 1", true),
        ("fd.port < 1", true),
        ("fd.port <= 1", true),
        ("fd.port > 1", true),
        ("fd.port >= 1", true),
        ("fd.port contains 1", false),
        ("fd.port in (1)", true),
        ("fd.port intersects (1)", true),
        ("fd.port icontains 1", false),
        ("fd.port startswith 1", false),
        ("fd.port glob 1", false),
        ("fd.port pmatch (1)", false),
        ("fd.port endswith 1", false),
        ("fd.port bcontains 303000", false),
        ("fd.port bstartswith 303000", false),
        ("fd.port iglob 1", false),
        ("fd.port regex '1'", false),
        ("proc.pid.ts exists", true),
        ("proc.pid.ts = 1", true),
        ("proc.pid.ts != 1", true),
        ("proc.pid.ts < 1", true),
        ("proc.pid.ts <= 1", true),
        ("proc.pid.ts > 1", true),
        ("proc.pid.ts >= 1", true),
        ("proc.pid.ts contains 1", false),
        ("proc.pid.ts in (1)", true),
        ("proc.pid.ts intersects (1)", true),
        ("proc.pid.ts icontains 1", false),
        ("proc.pid.ts startswith 1", false),
        ("proc.pid.ts glob 1", false),
        ("proc.pid.ts pmatch (1)", false),
        ("proc.pid.ts endswith 1", false),
        ("proc.pid.ts bcontains 303000", false),
        ("proc.pid.ts bstartswith 303000", false),
        ("proc.pid.ts iglob 1", false),
        ("proc.pid.ts regex '1'", false),
        ("evt.count exists", true),
        ("evt.count = 1", true),
        ("evt.count != 1", true),
        ("evt.count < 1", true),
        ("evt.count <= 1", true),
        ("evt.count > 1", true),
        ("evt.count >= 1", true),
        ("evt.count contains 1", false),
        ("evt.count in (1)", true),
        ("evt.count intersects (1)", true),
        ("evt.count icontains 1", false),
        ("evt.count startswith 1", false),
        ("evt.count glob 1", false),
        ("evt.count pmatch (1)", false),
        ("evt.count endswith 1", false),
        ("evt.count bcontains 303000", false),
        ("evt.count bstartswith 303000", false),
        ("evt.count iglob 1", false),
        ("evt.count regex '1'", false),
        ("evt.num exists", true),
        ("evt.num = 1", true),
        ("evt.num != 1", true),
        ("evt.num < 1", true),
        ("evt.num <= 1", true),
        ("evt.num > 1", true),
        ("evt.num >= 1", true),
        ("evt.num contains 1", false),
        ("evt.num in (1)", true),
        ("evt.num intersects (1)", true),
        ("evt.num icontains 1", false),
        ("evt.num startswith 1", false),
        ("evt.num glob 1", false),
        ("evt.num pmatch (1)", false),
        ("evt.num endswith 1", false),
        ("evt.num bcontains 303000", false),
        ("evt.num bstartswith 303000", false),
        ("evt.num iglob 1", false),
        ("evt.num regex '1'", false),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(c, ok)| loads(c) != *ok)
        .map(|(c, ok)| format!("{c:?}: expected {}", if *ok { "to load" } else { "an error" }))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

// libs filter_compiler.ut.cpp, TEST(sinsp_filter_compiler, supported_operators) (hex strings)
// and TEST_F(sinsp_with_test_input, filter_nul_byte_value)
#[test]
fn byte_values_and_nul_bytes() {
    for ok in [
        "evt.buffer bcontains 12ab001fc5",
        "evt.buffer bstartswith 48545450",
        "evt.buffer bcontains CAFE",
        r#"evt.buffer = "\x00""#,
    ] {
        assert!(loads(ok), "{ok}");
    }
    for bad in [
        "evt.buffer bstartswith g",
        "evt.buffer bstartswith 123Z",
        "evt.buffer bstartswith abc_1",
        "evt.buffer bcontains abc",
        r#"evt.buffer bcontains "\x00""#,
        r#"evt.buffer bstartswith "\x00""#,
    ] {
        assert!(load_error(bad).contains("hex strings only"), "{bad}");
    }
    for bad in [
        r#"proc.name = "\x00""#,
        r#"proc.name contains "\x00""#,
        r#"proc.name icontains "\x00""#,
        r#"proc.name startswith "\x00""#,
        r#"proc.name endswith "\x00""#,
        r#"proc.name pmatch ("\x00")"#,
        r#"proc.name glob "\x00?""#,
        r#"proc.name regex "\x00""#,
        r#"proc.name in (a, "\x00")"#,
    ] {
        assert!(load_error(bad).contains("NUL byte"), "{bad}");
    }
    let ev = MapEvent::new("read").with("evt.buffer", FieldValue::Bytes(vec![0, 0xca, 0xfe].into()));
    assert!(matches(r#"evt.buffer startswith "\x00\xca""#, &ev));
    assert!(matches(r#"evt.buffer = "\x00\xca\xfe""#, &ev));
    assert!(!matches(r#"evt.buffer = "\x00\xca""#, &ev));
}

// libs value_parser.cpp `string_to_rawval` and utils.cpp `sinsp_numparser`
// (sscanf "%d"/"%u": decimal only, nothing after the digits).
#[test]
fn values_parse_like_libsinsp() {
    let ev = MapEvent::new("open")
        .i("fd.num", 3)
        .u("proc.duration", 5)
        .u("fd.sport", 22)
        .ip("fd.sip", "10.1.2.3")
        .ip("fd.snet", "10.1.2.3")
        .ip("fd.rnet", "::ffff:10.1.2.3")
        .b("evt.is_open_read", true);
    for bad in [
        "fd.num = 0x3",
        "fd.num = 3.0",
        "fd.num = '3 '",
        "fd.num in (1, x)",
        "evt.is_open_read = True",
        "evt.is_open_read = 1",
        "fd.sip = 10.0.0.0/8",
        "fd.sip in (\"10.0.0.0/8\")",
        "fd.snet = 10.1.2.3",
        "fd.snet = 10.0.0.0/33",
        "fd.snet = \"::/0\"",
        "fd.sport = no-such-service-name",
    ] {
        assert!(load_error(bad).contains("not a valid"), "{bad}");
    }
    let cases: &[(&str, bool)] = &[
        ("fd.num = ' 3'", true),
        ("fd.num = +3", true),
        ("fd.num in (3, 4)", true),
        // Unsigned fields read negative numbers as sscanf("%lu") does (wrapping).
        ("proc.duration < -1", true),
        ("fd.sport = 22", true),
        ("fd.sip = 10.1.2.3", true),
        ("fd.sip != ::1", true),
        ("fd.sip = ::1", false),
        ("fd.sip in (10.1.2.3, ::1)", true),
        ("fd.snet = 10.0.0.0/8", true),
        ("fd.snet = \"0.0.0.0/0\"", true),
        ("fd.snet in (\"192.168.0.0/16\", \"10.0.0.0/8\")", true),
        // An IPv4 network never contains an IPv6 address (no v4-mapped matching).
        ("fd.rnet = 10.0.0.0/8", false),
        ("fd.rnet != 10.0.0.0/8", true),
        ("evt.is_open_read in (true)", true),
    ];
    for (c, want) in cases {
        assert_eq!(matches(c, &ev), *want, "{c}");
    }
    // `1e3` is a number token only with a signed exponent: the rest is left over.
    assert!(!loads("fd.num > 1e3"));
    if std::path::Path::new("/etc/services").exists() {
        assert!(matches("fd.sport = ssh", &ev));
        assert!(matches("fd.sport in (ssh, http)", &ev));
    }
}

// libs filter_compiler.ut.cpp, TEST_F(sinsp_with_test_input, filter_val_transformer),
// filter_different_types, filter_regex_operator_evaluation (field-to-field), and
// sinsp_filtercheck.cpp `add_filter_value(rhs)`, `check_rhs_field_type_consistency`.
#[test]
fn field_to_field_comparisons() {
    let ev = MapEvent::new("open")
        .s("evt.args", "fd=3")
        .s("proc.name", "bash")
        .s("proc.pname", "bash")
        .i("proc.pid", 7)
        .i("proc.ppid", 7);
    assert!(!matches("(evt.args = evt.args)", &ev));
    assert!(matches("(evt.args = val(evt.args))", &ev));
    assert!(matches("proc.name = val(proc.pname)", &ev));
    assert!(matches("proc.pid = val(proc.ppid)", &ev));
    assert!(matches("proc.name in val(proc.pname)", &ev));
    assert!(matches("toupper(proc.name) = toupper(proc.pname)", &ev));
    let refused: &[(&str, &str)] = &[
        ("(syscall.type = val(tolower(toupper(syscall.type))))", "expected a field within 'val' transformer"),
        // `val` is not a field name, so this reads as a macro `val` followed by garbage.
        ("(val(evt.args) = val(evt.args))", "expected a ')' token"),
        ("(syscall.type = val(syscall.type, evt.type))", "expected a ')' token closing the transformer"),
        ("syscall.type = val(evt.is_wait)", "incompatible type"),
        ("proc.name = val(evt.is_wait)", "incompatible type"),
        ("proc.name = val(proc.pid)", "incompatible type"),
        ("proc.name regex val(proc.pname)", "doesn't support right-hand side fields"),
        ("proc.name pmatch val(proc.pname)", "doesn't support right-hand side fields"),
        ("fd.snet = val(fd.sip)", "doesn't support right-hand side fields"),
        ("proc.aname = val(proc.name)", "doesn't support right-hand side fields"),
        ("proc.name = val(proc.aname[1])", "can't be used as a right-hand side field"),
        ("fd.name = val(fd.types)", "can't be used as a right-hand side field"),
        ("fd.name = val(proc.name)[x]", "transformer 'val' does not support field arguments"),
    ];
    for (c, want) in refused {
        let e = load_error(c);
        assert!(e.contains(want), "{c}: {e}");
    }
}

// libs filter_compiler.ut.cpp, TEST(sinsp_filter_compiler, transformer_field_arg_support),
// TEST_F(sinsp_with_test_input, filter_not_supported_transformers), filter_transformers_wrong_input_type;
// transformer sources sinsp_filter_transformer_*.cpp (`transform_type`)
#[test]
fn transformer_rules() {
    let refused: &[(&str, &str)] = &[
        ("toupper(fd.name)[x] = foo", "transformer 'toupper' does not support field arguments"),
        ("toupper(evt.rawarg.res) = -1", "does not support transformers"),
        ("toupper(evt.rawres) = -1", "is not supported by 'toupper' transformer"),
        ("tolower(evt.rawres) = -1", "is not supported by 'tolower' transformer"),
        ("b64(evt.rawres) = -1", "is not supported by 'b64' transformer"),
        ("basename(evt.buffer) = x", "is not supported by 'basename' transformer"),
        ("len(fd.num) = 1", "is not supported by 'len' transformer"),
        ("tolower(proc.aname) = x", "does not support transformers"),
        ("tolower(proc.aname[1]) = x", "does not support transformers"),
        ("tolower(fd.name, fd.directory) = x", "takes exactly one argument"),
        ("concat(fd.name) = x", "at least 2 arguments"),
        ("join(\"-\", getopt((\"-a\"), \"a\")) = x", "second argument must be a list"),
        ("len(fd.name) contains 1", "not supported"),
    ];
    for (c, want) in refused {
        let e = load_error(c);
        assert!(e.contains(want), "{c}: {e}");
    }
    let ev = MapEvent::new("open")
        .s("proc.name", "École")
        .s("proc.cmdline", "aGVsbG8=")
        .s("fd.name", "/tmp/x\u{e9}")
        .list("fd.types", &["ipv4", "file"])
        .list("proc.aname", &["sshd", "systemd"])
        .with("evt.buffer", FieldValue::Bytes(b"aGk=".to_vec().into()));
    let cases: &[(&str, bool)] = &[
        // C tolower/toupper: ASCII letters only.
        ("toupper(proc.name) = ÉCOLE", true),
        ("tolower(proc.name) = école", false),
        ("tolower(proc.name) = École", true),
        // len counts bytes.
        ("len(fd.name) = 8", true),
        ("b64(proc.cmdline) = hello", true),
        ("b64(evt.buffer) = hi", true),
        // Invalid base64 makes the extraction fail: the check is false, `not` true.
        ("b64(proc.name) exists", false),
        ("not b64(proc.name) = x", true),
        // Literals and literal lists are transformer arguments.
        ("tolower(\"ABC\") = abc", true),
        ("len((\"a\", \"b\")) = 2", true),
        ("toupper((\"a\", \"b\")) intersects (B)", true),
        ("concat(proc.aname, \"!\") = \"sshd systemd!\"", true),
        ("join(\"|\", (proc.aname, fd.types)) = \"sshd systemd|ipv4|file\"", true),
        ("toupper(fd.types) intersects (FILE)", true),
        ("len(fd.types) = 2", true),
    ];
    for (c, want) in cases {
        assert_eq!(matches(c, &ev), *want, "{c}");
    }
}

// libs sinsp_filtercheck.cpp `compare_rhs` on list fields (EPF_IS_LIST, e.g. fd.types):
// only `in` (every value in the set), `intersects` and `exists`.
#[test]
fn list_valued_fields() {
    let two = MapEvent::new("socket").list("fd.types", &["ipv4", "file"]);
    let none = MapEvent::new("socket").list("fd.types", &[]);
    let cases: &[(&MapEvent, &str, bool)] = &[
        (&two, "fd.types in (file, ipv4, unix)", true),
        (&two, "fd.types in (file)", false),
        (&two, "fd.types intersects (file)", true),
        (&two, "fd.types intersects (unix)", false),
        (&two, "fd.types exists", true),
        (&none, "fd.types in (file)", true),
        (&none, "fd.types intersects (file)", false),
        (&none, "fd.types exists", true),
        (&two, r#"getopt(("-t", "x"), "t:") in (t, x)"#, true),
        (&two, r#"getopt(("-t", "x"), "t:") in (t)"#, false),
    ];
    for (ev, c, want) in cases {
        assert_eq!(matches(c, ev), *want, "{c}");
    }
    for bad in [
        "fd.types = file",
        "fd.types contains f",
        "fd.types startswith f",
        "fd.types pmatch (/x)",
        r#"getopt(("-t"), "t") = t"#,
    ] {
        assert!(load_error(bad).contains("(list)"), "{bad}");
    }
}

// libs sinsp_filtercheck_thread.cpp `compare_full_aname`: an ancestor field
// without a level matches when any ancestor does; it exists when there is one.
#[test]
fn ancestor_fields() {
    let ev = MapEvent::new("open").list("proc.aname", &["sshd", "systemd"]).s("proc.aname[1]", "sshd");
    let orphan = MapEvent::new("open").list("proc.aname", &[]);
    assert!(matches("proc.aname = systemd", &ev));
    assert!(matches("proc.aname startswith sys", &ev));
    assert!(matches("proc.aname in (init, sshd)", &ev));
    assert!(matches("proc.aname[1] = sshd", &ev));
    assert!(matches("proc.aname exists", &ev));
    assert!(!matches("proc.aname exists", &orphan));
    assert!(!matches("proc.aname = systemd", &orphan));
    assert!(matches("not proc.aname = systemd", &orphan));
}

// libs filter_compiler.ut.cpp, TEST(sinsp_filter_compiler, boolean_evaluation)
// (c.true=1 → proc.name = yes, c.false=1 → proc.name = no) and str_escape.
#[test]
fn boolean_structure_and_escapes() {
    let ev = MapEvent::new("open").s("proc.name", "yes");
    let t = |s: &str| s.replace('T', "proc.name = yes").replace('F', "proc.name = no");
    let cases: &[(&str, bool)] = &[
        ("T", true),
        ("F", false),
        ("not T", false),
        ("not(T)", false),
        ("not not T", true),
        ("not not(T)", true),
        ("not (not T)", true),
        ("not not not T", false),
        ("not not not(T)", false),
        ("not (not (not T))", false),
        ("not(not(not T))", false),
        ("not not not not T", true),
        ("not not(not not T)", true),
        ("T and T", true),
        ("T and F", false),
        ("F and T", false),
        ("F and F", false),
        ("T and not T", false),
        ("not T and T", false),
        ("T or T", true),
        ("T or F", true),
        ("F or T", true),
        ("F or F", false),
        ("F or not F", true),
        ("not F or F", true),
        ("T or T and F", true),
        ("(T or T) and F", false),
        ("not (not (T or T) and F)", true),
        ("not (F or F or T)", false),
        ("not (F or F and not T)", true),
        ("not (F or not F and T)", false),
        ("not ((F or not (F and not T)) and T)", false),
    ];
    for (c, want) in cases {
        assert_eq!(matches(&t(c), &ev), *want, "{c}");
    }
    let single = MapEvent::new("open").s("proc.name", "hello 'quoted'");
    let double = MapEvent::new("open").s("proc.name", "hello \"quoted\"");
    assert!(matches(r"proc.name = 'hello \'quoted\''", &single));
    assert!(matches(r#"proc.name = "hello 'quoted'""#, &single));
    assert!(matches(r#"proc.name = 'hello "quoted"'"#, &double));
    assert!(matches(r#"proc.name = "hello \"quoted\"""#, &double));
    assert!(!matches(r#"proc.name = "hello ''quoted''""#, &single));
    assert!(!matches(r#"proc.name = 'hello ""quoted""'"#, &double));
}

// RE2 POSIX syntax for `regex` (libs sinsp_filtercheck.cpp: re2::RE2::POSIX, ANCHOR_BOTH).
#[test]
fn regex_is_re2_posix() {
    let ev = MapEvent::new("open").s("proc.name", "syscall").s("proc.cmdline", "a\nb");
    assert!(matches("proc.name regex '^[s]{1}ysca[l]{2}$'", &ev));
    assert!(!matches("proc.name regex 'yscal.*'", &ev));
    assert!(matches("proc.name regex 'sys(call|tem)'", &ev));
    assert!(!matches("proc.cmdline regex 'a[^x]b'", &ev));
    // `\d` must be escaped in the string first; RE2's POSIX syntax then refuses it.
    assert!(load_error(r"proc.name regex '\d+'").contains("unsupported string escape"));
    for bad in
        [r"proc.name regex '\\d+'", "proc.name regex '(?i)SYSCALL'", "proc.name regex 'sys.*?'", "proc.name regex '('"]
    {
        assert!(load_error(bad).contains("invalid regex"), "{bad}");
    }
}
