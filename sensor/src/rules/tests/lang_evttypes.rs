//! Event-type indexing: the set of event types a condition can match
//! (libsinsp `filter/ppm_codes.cpp`), which decides the rules an event is
//! dispatched to.

use super::conformance::load_error;
use crate::rules::compile::Compiler;
use crate::rules::evttype::EventTypes;
use crate::rules::parser::parse;

/// The condition's event types, rendered by name: `all`, `none`,
/// `only [a, b]` or `all but [a, b]`.
fn types(cond: &str) -> String {
    let ast = parse(cond).unwrap_or_else(|e| panic!("{cond:?}: {e}"));
    let mut names = EventTypes::default();
    let mut leaves = crate::rules::compile::LeafIds::default();
    let filter = Compiler { types: &mut names, unknown_types: Vec::new(), leaves: &mut leaves }
        .compile(&ast)
        .unwrap_or_else(|e| panic!("{cond:?}: {e}"));
    let set = filter.evttypes();
    let mut named: Vec<&str> = (0..names.len())
        .filter_map(|i| u16::try_from(i).ok())
        .filter(|&id| set.contains(Some(id)) != set.is_complement())
        .filter_map(|id| names.name(id))
        .collect();
    named.sort_unstable();
    named.dedup();
    match (set.is_complement(), named.is_empty()) {
        (true, true) => "all".into(),
        (false, true) => "none".into(),
        (true, false) => format!("all but {named:?}"),
        (false, false) => format!("only {named:?}"),
    }
}

fn expect(cases: &[(&str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(c, want)| {
            let got = types(c);
            (got != *want).then(|| format!("{c:?}: {got}, expected {want}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn same(pairs: &[(&str, &str)]) {
    for (a, b) in pairs {
        assert_eq!(types(a), types(b), "{a:?} vs {b:?}");
    }
}

const OPENAT: &str = r#"only ["openat"]"#;
const NOT_OPENAT: &str = r#"all but ["openat"]"#;

// libs userspace/libsinsp/test/filter_ppm_codes.ut.cpp, TEST_CODES(filter_ppm_codes, check_openat),
// check_openat_or_close, check_all_events, check_no_events
#[test]
fn sets_of_simple_conditions() {
    expect(&[
        ("evt.type=openat", OPENAT),
        ("evt.type = openat", OPENAT),
        ("not evt.type != openat", OPENAT),
        ("not not evt.type = openat", OPENAT),
        ("not not not not evt.type = openat", OPENAT),
        ("evt.type in (openat)", OPENAT),
        ("not (not evt.type=openat)", OPENAT),
        ("evt.type=openat and proc.name=nginx", OPENAT),
        ("evt.type=openat and not proc.name=nginx", OPENAT),
        ("evt.type=openat and (proc.name=nginx)", OPENAT),
        ("evt.type=openat and not (evt.type=close and proc.name=nginx)", OPENAT),
        ("evt.type!=openat", NOT_OPENAT),
        ("not not not evt.type = openat", NOT_OPENAT),
        ("not evt.type=openat", NOT_OPENAT),
        ("evt.type=close or evt.type!=openat", NOT_OPENAT),
        ("evt.type in (openat, close)", r#"only ["close", "openat"]"#),
        ("evt.type=openat or evt.type=close", r#"only ["close", "openat"]"#),
        ("evt.type=openat or (evt.type=close and proc.name=nginx)", r#"only ["close", "openat"]"#),
        ("not evt.type in (openat, close)", r#"all but ["close", "openat"]"#),
        ("not not not evt.type in (openat, close)", r#"all but ["close", "openat"]"#),
        ("evt.type!=openat and evt.type!=close", r#"all but ["close", "openat"]"#),
        ("evt.type!=openat or evt.type!=close", "all"),
        ("proc.name=nginx", "all"),
        ("evt.type=openat or proc.name=nginx", "all"),
        ("(evt.type=openat) or proc.name=nginx", "all"),
        ("evt.type=close or not (evt.type=openat and proc.name=nginx)", "all"),
        ("evt.type=close and evt.type=openat", "none"),
        ("evt.type=openat and (evt.type=close and proc.name=nginx)", "none"),
        ("evt.type=openat and (evt.type=close)", "none"),
    ]);
}

// libs filter_ppm_codes.ut.cpp, TEST_CODES(filter_ppm_codes, check_properties)
#[test]
fn set_algebra() {
    let zero = "(evt.type in ())";
    let one = "(evt.type exists)";
    let n1 = "(proc.name=cat)";
    let n2 = "(not proc.name=cat)";
    assert_eq!(types(&format!("not {one}")), "none");
    assert_eq!(types(&format!("not {zero}")), "all");
    assert_eq!(types(zero), "none");
    assert_eq!(types("(evt.type=mmap and not evt.type=mmap)"), "none");
    same(&[
        (
            "evt.type in (connect, execve, accept, mmap, container) and not (proc.name=cat and evt.type=mmap)",
            "evt.type in (accept, connect, container, execve, mmap)",
        ),
        (one, n1),
        (one, n2),
        ("evt.type=mmap", "not (not evt.type=mmap)"),
        ("evt.type=mmap or not evt.type=mmap", one),
        (&format!("{zero} and {one}"), zero),
        (&format!("{zero} and {n1}"), zero),
        (&format!("{zero} or {n2}"), one),
        (&format!("evt.type=mmap and {n1}"), "evt.type=mmap"),
        (&format!("evt.type=mmap or {zero}"), "evt.type=mmap"),
        (&format!("evt.type=mmap or {n2}"), one),
        ("not (proc.name=cat or evt.type=mmap)", "not proc.name=cat and not evt.type=mmap"),
        ("not (evt.type=execve or evt.type=mmap)", "not evt.type=execve and not evt.type=mmap"),
        ("not (proc.name=cat and evt.type=mmap)", "not proc.name=cat or not evt.type=mmap"),
        ("not (evt.type=execve and evt.type=mmap)", "not evt.type=execve or not evt.type=mmap"),
        ("not evt.type=mmap", "evt.type!=mmap"),
        ("not proc.name=cat", "proc.name!=cat"),
        ("evt.type=execve and evt.type=mmap", "evt.type=mmap and evt.type=execve"),
        ("not evt.type=execve or not evt.type=mmap", "not evt.type=mmap or not evt.type=execve"),
    ]);
}

// libs filter_ppm_codes.ut.cpp, TEST_CODES(filter_ppm_codes, check_evt_num_invariants),
// check_evt_num_invariants_negation, check_evt_num_invariants_composition
#[test]
fn evt_num_invariants() {
    expect(&[
        ("evt.num=0", "none"),
        ("evt.num == 0", "none"),
        ("evt.num<1", "none"),
        ("evt.num<0", "none"),
        ("evt.num<=0", "none"),
        ("evt.num in (0)", "none"),
        ("evt.num in (0, 0)", "none"),
        ("evt.num in ()", "none"),
        ("evt.num!=0", "all"),
        ("evt.num>0", "all"),
        ("evt.num>=0", "all"),
        ("evt.num>=1", "all"),
        ("evt.num=1", "all"),
        ("evt.num=42", "all"),
        ("evt.num<100", "all"),
        ("evt.num<=1", "all"),
        ("evt.num>5", "all"),
        ("evt.num>=2", "all"),
        ("evt.num in (1, 2, 3)", "all"),
        ("not evt.num=1", "all"),
        ("not evt.num in (1, 2)", "all"),
        ("evt.num=-1", "all"),
        ("evt.num<-5", "all"),
        ("evt.num!=-1", "all"),
        ("evt.num in (0, -1, -2)", "all"),
        ("not evt.num=0", "all"),
        ("not evt.num<1", "all"),
        ("not evt.num in (0)", "all"),
        ("not evt.num!=0", "none"),
        ("not evt.num>0", "none"),
        ("not evt.num>=1", "none"),
        ("not not evt.num=0", "none"),
        ("not not evt.num!=0", "all"),
        ("evt.type=openat and evt.num=0", "none"),
        ("evt.num=0 and evt.type=openat", "none"),
        ("evt.type=openat and (evt.num=0)", "none"),
        ("evt.type=openat or evt.num=0", OPENAT),
        ("evt.num=0 or evt.type=openat", OPENAT),
        ("evt.type=openat and evt.num!=0", OPENAT),
        ("evt.type=openat or evt.num!=0", "all"),
        ("not (evt.type=openat and evt.num=0)", "all"),
        ("not (evt.type=openat or evt.num=0)", NOT_OPENAT),
        ("evt.type=openat and not (evt.num=0)", OPENAT),
        ("evt.type=openat or not (evt.num=0)", "all"),
        ("evt.type=openat and evt.num=1", OPENAT),
        ("evt.type=openat and not evt.num=1", OPENAT),
    ]);
    // b64 does not apply to numbers (sinsp_filter_transformer_base64.cpp).
    assert!(load_error("b64(evt.num)=0").contains("is not supported by 'b64'"));
    // Hex and fractional values are not numbers to libsinsp's value parser.
    for bad in ["evt.num=0x0", "evt.num=1.5"] {
        assert!(load_error(bad).contains("not a valid"), "{bad}");
    }
}

// libs ppm_codes.cpp `is_evttype_operator`: only =, ==, != and `in` give
// sets; `intersects` and modified operators match every type.
#[test]
fn only_equality_and_in_narrow() {
    expect(&[
        ("evt.type intersects (openat)", "all"),
        ("evt.type == oneof (openat, close)", "all"),
        ("evt.type != allof (openat)", "all"),
        ("evt.type == openat", OPENAT),
        ("evt.type in openat", OPENAT),
        ("evt.type startswith open", "all"),
        ("not evt.type startswith open", "all"),
    ]);
}

// libs filter_ppm_codes.ut.cpp, TEST_CODES(filter_ppm_codes, field_transformers)
#[test]
fn evt_type_with_transformers_or_fields_is_refused() {
    for ok in [
        "evt.type = close",
        "b64(proc.name) = cat",
        "proc.name = b64(fd.name)",
        "b64(proc.name) = b64(fd.name)",
        "not b64(proc.name) != b64(fd.name)",
        "tolower(evt.type) contains open",
    ] {
        let _ = types(ok);
    }
    for bad in [
        "b64(evt.type) = close",
        "evt.type = b64(proc.name)",
        "evt.type = val(proc.name)",
        "b64(evt.type) = val(proc.name)",
        "b64(evt.type) != close",
        "evt.type != val(proc.name)",
        "not b64(evt.type) = close",
        "not evt.type = val(proc.name)",
        "tolower(evt.type) in (open)",
        "len(evt.type) exists",
        "syscall.type = val(proc.name)",
    ] {
        let e = load_error(bad);
        assert!(e.contains("event code search"), "{bad}: {e}");
    }
}
