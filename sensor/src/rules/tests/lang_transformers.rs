//! Field transformers: `tolower`, `toupper`, `b64`, `basename`, `len`, and
//! the multivalue `join`, `concat` and `getopt`, with their argument rules.

use super::conformance::{load_error, matches};
use crate::rules::{FieldValue, MapEvent};

fn run(ev: &MapEvent, cases: &[(&str, bool)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter(|(c, want)| matches(c, ev) != *want)
        .map(|(c, want)| format!("{c:?}: expected {want}"))
        .collect();
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

fn refused(conds: &[&str]) {
    for c in conds {
        let _ = load_error(c);
    }
}

/// libsinsp's test open event: fd 3 on `/tmp/file_to_run`, event number 1.
fn open_event() -> MapEvent {
    MapEvent::new("open")
        .s("fd.name", "/tmp/file_to_run")
        .s("fd.directory", "/tmp")
        .list("fd.types", &["file"])
        .u("evt.num", 1)
}

// libs userspace/libsinsp/test/filter_transformer.ut.cpp,
// TEST_F(sinsp_with_test_input, basename_transformer) and len_transformer
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn basename_and_len() {
    run(
        &open_event(),
        &[
            ("basename(fd.name) = file_to_run", true),
            ("basename(fd.name) = /tmp/file_to_run", false),
            ("len(fd.types) = 1", true),
            ("len(fd.types) > 0", true),
            ("len(fd.types) = 0", false),
            ("len(fd.name) = 16", true),
        ],
    );
    let socket = MapEvent::new("socket").list("fd.types", &["ipv4", "file"]);
    assert!(matches("len(fd.types) = 2", &socket));
    let read = MapEvent::new("read").with("evt.arg.data", FieldValue::Bytes(vec![1, 2, 3, 4, 5, 6].into()));
    assert!(matches("len(evt.arg.data) == 6", &read));
}

// libs filter_transformer.ut.cpp, TEST_F(sinsp_with_test_input, multivalue_transformer_join)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn join() {
    run(
        &open_event(),
        &[
            ("join(fd.name, (fd.name,fd.directory)) = /tmp/file_to_run/tmp/file_to_run/tmp", true),
            ("join(\"-\", (fd.name,fd.directory)) = /tmp/file_to_run-/tmp", true),
            ("join(\"-\", (\"aaa\",\"bbb\")) = aaa-bbb", true),
            ("join(\"->\", (\"aaa\",\"bbb\")) = aaa->bbb", true),
            ("join(\"->\", (\"aaa\")) = aaa", true),
            ("join(\"->\", (fd.name, \"aaa\")) = /tmp/file_to_run->aaa", true),
            ("join(\"->\", (fd.name, \"aaa\", fd.directory)) = /tmp/file_to_run->aaa->/tmp", true),
            ("join(\"->\", (toupper(fd.name), \"aaa\")) = /TMP/FILE_TO_RUN->aaa", true),
            ("join(\"->\", ( \"aaa\", toupper(fd.name))) = aaa->/TMP/FILE_TO_RUN", true),
            (
                "join(\"-\", (fd.directory, join(\"->\", ( \"aaa\", toupper(fd.name))))) = /tmp-aaa->/TMP/FILE_TO_RUN",
                true,
            ),
            ("join(\",\", (\"aaa\",\"bbb\")) = \"aaa,bbb\"", true),
            ("join(\",\", (\"aaa\",\"bbb\")) = \"aaa-bbb\"", false),
            ("join(\",\", (evt.num, evt.num)) = \"1,1\"", true),
            ("join(\",\", ()) = \"\"", true),
            ("join(\",\", ()) = \",\"", false),
        ],
    );
    refused(&[
        "join() = foo",
        "join(\"-\") = foo",
        "join(\"-\", \"a\", \"b\") = foo",
        "join(fd.types, (\"a\", \"b\")) = foo",
        "join((\"a\", \"b\"), (\"a\", \"b\")) = foo",
        "join((\"a\", \"b\"), \"a\") = foo",
        "join(\"a\", \"b\") = foo",
    ]);
}

// libs filter_transformer.ut.cpp, TEST_F(sinsp_with_test_input, multivalue_transformer_concat)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn concat() {
    run(
        &open_event(),
        &[
            ("concat(fd.name, fd.directory) = /tmp/file_to_run/tmp", true),
            ("concat(\"aaa\", \"bbb\") = aaabbb", true),
            ("concat(\"aaa\", \"bbb\", \"ccc\") = aaabbbccc", true),
            ("concat(fd.name, \"aaa\") = /tmp/file_to_runaaa", true),
            ("concat(fd.name, \"aaa\", fd.directory) = /tmp/file_to_runaaa/tmp", true),
            ("concat(toupper(fd.name), \"aaa\") = /TMP/FILE_TO_RUNaaa", true),
            ("concat(\"aaa\", toupper(fd.name)) = aaa/TMP/FILE_TO_RUN", true),
            ("concat(fd.directory, concat(\"aaa\", toupper(fd.name))) = /tmpaaa/TMP/FILE_TO_RUN", true),
            ("concat(\"aaa\", \"bbb\") = \"aaabbb\"", true),
            ("concat(\"aaa\", \"bbb\") = \"aaa-bbb\"", false),
        ],
    );
    refused(&[
        "concat() = foo",
        "concat(\"aaa\") = foo",
        "concat(fd.types, \"a\") = foo",
        "concat((\"a\", \"b\"), \"a\") = foo",
        "concat(\"a\", (\"a\", \"b\")) = foo",
        "concat((\"a\", \"b\"), (\"a\", \"b\")) = foo",
    ]);
}

// libs filter_transformer.ut.cpp,
// TEST_F(sinsp_with_test_input, multivalue_transformer_with_outer_transformer)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn transformers_over_multivalue_transformers() {
    run(
        &open_event(),
        &[
            ("toupper(join(\"-\", (fd.name, fd.directory))) = /TMP/FILE_TO_RUN-/TMP", true),
            ("toupper(join(\"-\", (\"aaa\", \"bbb\"))) = AAA-BBB", true),
            ("tolower(join(\"-\", (fd.name, fd.directory))) = /tmp/file_to_run-/tmp", true),
            ("tolower(join(\"-\", (\"AAA\", \"BBB\"))) = aaa-bbb", true),
            ("len(join(\"-\", (fd.name, fd.directory))) = 21", true),
            ("len(join(\"-\", (\"aaa\", \"bbb\"))) = 7", true),
            ("join(\"-\", (\"aaa\", \"bbb\")) = \"aaa-bbb\"", true),
            ("b64(join(\"W\", (\"YWFhL\", \"JiYg\"))) = \"aaa-bbb\"", true),
            ("toupper(tolower(join(\"-\", (fd.name, fd.directory)))) = /TMP/FILE_TO_RUN-/TMP", true),
            ("toupper(join(\"-\", (fd.name, fd.directory))) contains /TMP", true),
            ("toupper(join(\"-\", (fd.name, fd.directory))) startswith /TMP", true),
            ("len(join(\"-\", (fd.name, fd.directory))) > 20", true),
            ("len(join(\"-\", (fd.name, fd.directory))) >= 21", true),
            ("len(join(\"-\", (fd.name, fd.directory))) < 22", true),
            ("toupper(concat(fd.name, fd.directory)) = /TMP/FILE_TO_RUN/TMP", true),
            ("toupper(concat(\"aaa\", \"bbb\")) = AAABBB", true),
            ("tolower(concat(fd.name, fd.directory)) = /tmp/file_to_run/tmp", true),
            ("tolower(concat(\"AAA\", \"BBB\")) = aaabbb", true),
            ("len(concat(fd.name, fd.directory)) = 20", true),
            ("len(concat(\"aaa\", \"bbb\")) = 6", true),
            ("concat(\"aaa\", \"bbb\") = \"aaabbb\"", true),
            ("b64(concat(\"YWFh\", \"YmJi\")) = \"aaabbb\"", true),
            ("toupper(tolower(concat(fd.name, fd.directory))) = /TMP/FILE_TO_RUN/TMP", true),
            ("toupper(concat(fd.name, fd.directory)) contains /TMP", true),
            ("toupper(concat(fd.name, fd.directory)) startswith /TMP", true),
            ("len(concat(fd.name, fd.directory)) > 19", true),
            ("len(concat(fd.name, fd.directory)) >= 20", true),
            ("len(concat(fd.name, fd.directory)) < 21", true),
        ],
    );
}

// libs filter_transformer.ut.cpp, TEST_F(sinsp_with_test_input, multivalue_transformer_getopt)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn getopt() {
    run(
        &open_event(),
        &[
            (r#"getopt(("-n",""), "n") intersects ("n")"#, true),
            (r#"getopt(("-t", "hello"), "t:") intersects ("t", "hello")"#, true),
            (r#"getopt(("-nt", "hello"), "nt:") intersects ("n", "t", "hello")"#, true),
            (r#"getopt(("-thello"), "t:") intersects ("t", "hello")"#, true),
            (r#"getopt(("-n", "-t", "hello"), "nt:") intersects ("n", "t", "hello")"#, true),
            (r#"getopt(("-n"), "n") intersects ("t")"#, false),
            (r#"getopt(("-n", "--", "-t"), "nt:") intersects ("n")"#, true),
            (r#"getopt(("-n", "--", "-t"), "nt:") intersects ("t")"#, false),
            (r#"getopt(("-x", "-n"), "n") intersects ("?", "n")"#, true),
            (r#"getopt(("-x", "-n"), "n") intersects ("x")"#, false),
            (
                r#"getopt(("-l", "-p", "8080", "-e", "/bin/sh"), "lp:e:") intersects ("l", "p", "e", "8080", "/bin/sh")"#,
                true,
            ),
            (r#"getopt(("-lpe", "/bin/sh"), "lp:e:") intersects ("l","p","e")"#, true),
            (r#"getopt(("-lpe", "/bin/sh"), "lpe:") intersects ("/bin/sh")"#, true),
            (r#"getopt(("-n", "-t"), "") intersects ("n")"#, false),
            (r#"getopt(("-n", "-t"), "") intersects ("t")"#, false),
            (r#"getopt((""), "n") intersects ("n")"#, false),
            (r#"getopt(("arg1", "arg2", "arg3"), "n") intersects ("n")"#, false),
            (r#"getopt(("arg1", "-n", "arg2"), "n") intersects ("n")"#, false),
            (r#"getopt(("-", "-n"), "n") intersects ("n")"#, false),
            (r#"getopt(("-"), "n") intersects ("n")"#, false),
            (r#"getopt(("-t"), "t:") intersects ("")"#, true),
            (r#"getopt(("-t"), "t:") intersects ("?")"#, false),
            (r#"getopt(("-t"), "t:") intersects ("t")"#, false),
            (r#"getopt(("-t"), ":t:") intersects ("")"#, true),
            (r#"getopt(("-t"), ":t:") intersects (":")"#, false),
            (r#"getopt(("-n", "--", "--"), "n") intersects ("n")"#, true),
            (r#"getopt(("--", "-n"), "n") intersects ("n")"#, false),
            (r#"getopt(("-nat", "hello"), "na:t") intersects ("n", "a", "t")"#, true),
            (r#"getopt(("-abcvalue"), "abc:") intersects ("a", "b", "c", "value")"#, true),
            (r#"getopt(("-abc", "value"), "abc:") intersects ("a", "b", "c", "value")"#, true),
            (r#"getopt(("-n", "-n", "-n"), "n") intersects ("n")"#, true),
            (r#"getopt(("-v", "-v", "-v"), "v") intersects ("v")"#, true),
            (r#"getopt(("-t", "val1", "-t", "val2"), "t:") intersects ("t", "val1", "val2")"#, true),
            (r#"getopt(("-p", "8080"), "p:") intersects ("p", "8080")"#, true),
            (r#"getopt(("-p8080"), "p:") intersects ("p", "8080")"#, true),
            (r#"getopt(("-n", "42"), "n:") intersects ("n", "42")"#, true),
            (r#"getopt(("-t", "-123"), "t:") intersects ("t", "-123")"#, true),
            (r#"getopt(("-f", "/etc/passwd"), "f:") intersects ("f", "/etc/passwd")"#, true),
            (r#"getopt(("-f", "./relative/path"), "f:") intersects ("f", "./relative/path")"#, true),
            (
                r#"getopt(("-u", "http://example.com:8080/path"), "u:") intersects ("u", "http://example.com:8080/path")"#,
                true,
            ),
            (r#"getopt(("-t", ""), "t:") intersects ("t", "")"#, true),
            (
                r#"getopt(("-p", "22", "-i", "keyfile", "user@host"), "p:i:") intersects ("p", "22", "i", "keyfile")"#,
                true,
            ),
            (r#"getopt(("-xzf", "file.tar.gz"), "xzf:") intersects ("x", "z", "f", "file.tar.gz")"#, true),
            (
                r#"getopt(("-X", "POST", "-H", "header", "-d", "data", "url"), "X:H:d:") intersects ("X", "POST", "H", "header", "d", "data")"#,
                true,
            ),
            (r#"getopt(("-e", "/bin/sh", "attacker.com", "4444"), "e:") intersects ("e", "/bin/sh")"#, true),
            (r#"getopt(("-rn", "pattern", "/path"), "rn") intersects ("r", "n")"#, true),
            (
                r#"getopt(("-it", "-p", "8080:80", "-v", "/host:/container", "image"), "itp:v:") intersects ("i", "t", "p", "8080:80", "v", "/host:/container")"#,
                true,
            ),
            (r#"getopt(("-a", "1", "-b", "2", "-c", "3"), "a:b:c:") intersects ("a", "1", "b", "2", "c", "3")"#, true),
            (r#"getopt(("-abc"), "abc") intersects ("a", "b", "c")"#, true),
            (r#"getopt(("-a", "val", "-b"), "a:b") intersects ("a", "val", "b")"#, true),
            (r#"getopt(("-abcdefg"), "abcdefg") intersects ("a", "b", "c", "d", "e", "f", "g")"#, true),
            (r#"getopt(("-1", "-2", "-3"), "123") intersects ("1", "2", "3")"#, true),
            (r#"getopt(("-a1b2c3"), "a1b2c3") intersects ("a", "1", "b", "2", "c", "3")"#, true),
            (r#"getopt(("regular_file", "-f", "another_file"), "f:") intersects ("f", "another_file")"#, false),
            (r#"getopt(("-f", "another_file", "regular_file"), "f:") intersects ("f", "another_file")"#, true),
            (r#"getopt(("-t", " "), "t:") intersects ("t", " ")"#, true),
            (r#"getopt(("", "-n", ""), "n") intersects ("n")"#, false),
            (r#"getopt(("-@", "-+"), "@+") intersects ("@", "+")"#, true),
            (r#"getopt(("-nx"), "n") intersects ("n", "?")"#, true),
            (r#"getopt(("-n", "-t", "hello"), "nt:")[t] = hello"#, true),
            (r#"getopt(("-n", "-t", "hello"), "nt:")[t] = n"#, false),
            (r#"getopt(("-n", "-t", "hello"), "nt:")[n] = n"#, true),
            (r#"getopt(("-t", "v1", "-t", "v2"), "t:")[t] = v2"#, true),
            (r#"getopt(("-t?"), "t:")[t] = ?"#, true),
            (r#"getopt(("-t:"), ":t:")[t] = :"#, true),
            (r#"getopt(("-t"), "t:")[t] != """#, false),
            (r#"getopt(("-t"), "t:")[t] = """#, true),
            (r#"getopt(("-t"), "t:")[t] = ?"#, false),
            (r#"getopt(("-t"), ":t:")[t] = :"#, false),
            (r#"getopt(("-n"), "nt:")[t] != """#, false),
            (r#"getopt(("-t", "v1", "-t"), "t:")[t] = v1"#, false),
            (r#"getopt(("-t", "v1", "-t"), "t:")[t] = """#, true),
            (r#"getopt(("--exec"), "e:") intersects ("?")"#, false),
            (r#"getopt(("--exec"), "e:") intersects ("e")"#, false),
            (r#"getopt(("--exec", "-n"), "n") intersects ("n")"#, true),
            (r#"getopt(("-n", "file", "-t"), "nt") intersects ("n")"#, true),
            (r#"getopt(("-n", "file", "-t"), "nt") intersects ("t")"#, false),
            (
                r#"getopt(("-abcdefghijklmnopqrstuvwxyz"), "abcdefghijklmnopqrstuvwxyz") intersects ("a", "b", "c", "z")"#,
                true,
            ),
            (
                r#"getopt(("-a", "-b", "-c", "-d", "-e", "-f"), "abcdef") intersects ("a", "b", "c", "d", "e", "f")"#,
                true,
            ),
            (
                r#"getopt(("-t", "this_is_a_very_long_argument_value_that_might_test_buffer_handling"), "t:") intersects ("t", "this_is_a_very_long_argument_value_that_might_test_buffer_handling")"#,
                true,
            ),
        ],
    );
    refused(&[
        r#"getopt() intersects ("n")"#,
        r#"getopt(("a")) intersects ("n")"#,
        r#"getopt(("a"), "n", "extra") intersects ("n")"#,
        r#"getopt("not_a_list", "n") intersects ("n")"#,
        r#"getopt(("-n"), ("n")) intersects ("n")"#,
        r#"getopt(("-n"), "n")[""] = n"#,
    ]);
}
