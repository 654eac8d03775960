//! Parser accept/reject vectors from libsinsp's parser unit tests for
//! transformers, transformer lists and the `oneof`/`anyof`/`allof` modifiers.

use super::parser_check::{accepts, rejects};

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformers_left_hand)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformers_left_hand() {
    accepts(&[
        "tolower(test.field) exists",
        "toupper(test.field) exists",
        "b64(test.field) exists",
        "b64(test.field) exists",
        "b64(test.field) = value",
        "b64(test.field) == value",
        "b64(test.field) != value",
        "b64(test.field) glob value",
        "(b64(test.field) exists)",
        "b64(test.field) exists and b64(test.field) contains 'a'",
        "b64(test.field) exists or b64(test.field) contains 'a'",
        "not b64(test.field) exists or b64(test.field) contains 'a'",
        "b64(test.field) exists or not b64(test.field) contains 'a'",
        "b64(test.field) exists or (b64(test.field) contains 'a')",
        "not (b64(test.field) exists or b64(test.field) contains 'a')",
        "b64(toupper(test.field)) exists",
        "toupper(b64(test.field)) exists",
        "b64( test.field) exists",
        "b64(test.field ) exists",
        "b64(test.field)  exists",
        "b64(b64(test.field)) exists",
        "b64( b64(test.field)) exists",
        "b64(b64( test.field)) exists",
        "b64(b64(test.field )) exists",
        "b64(b64(test.field) ) exists",
        "b64(b64(test.field))  exists",
    ]);
    rejects(&[
        "val(test.field) exists",
        "val(val(test.field)) exists",
        "val(b64(test.field)) exists",
        "b64(val(test.field)) exists",
        "b64(test.field [1]) exists",
        "some_fake_transformer(test.field) exists",
        "some_fake_transformer (test.field) exists",
        "some.fake.transformer(test.field) exists",
        "b64 (test.field) exists",
        "b64,(test.field) exists",
        "b64(testfield)) exists",
        "b64(test_field)) exists",
        "b64(b64)) exists",
        "b64\n(test.field) exists",
        "b64(test.field exists",
        "test.field) exists",
        "b64(b64(test.field exists",
        "b64(b64(test.field) exists",
        "b64(test.field)) exists",
        "(test.field) exists",
        "(test.field exists",
        "test.field) exists",
        "a(test.field) exists",
        "aaaa(test.field) exists",
        "a(b(test.field)) exists",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformers_right_hand)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformers_right_hand() {
    accepts(&[
        "some.field = test.field",
        "some.field = val(test.field)",
        "some.field = tolower(test.field)",
        "some.field = toupper(test.field)",
        "some.field = b64(test.field)",
        "some.field = val(test.field)",
        "some.field = b64(test.field)",
        "some.field == val(test.field)",
        "some.field == b64(test.field)",
        "some.field != val(test.field)",
        "some.field != b64(test.field)",
        "some.field glob val(test.field)",
        "some.field glob b64(test.field)",
        "some.field iglob val(test.field)",
        "some.field iglob b64(test.field)",
        "some.field contains val(test.field)",
        "some.field contains b64(test.field)",
        "some.field icontains val(test.field)",
        "some.field icontains b64(test.field)",
        "some.field bcontains val(test.field)",
        "some.field bcontains b64(test.field)",
        "some.field startswith val(test.field)",
        "some.field startswith b64(test.field)",
        "some.field bstartswith val(test.field)",
        "some.field bstartswith b64(test.field)",
        "some.field endswith val(test.field)",
        "some.field endswith b64(test.field)",
        "some.field > val(test.field)",
        "some.field > b64(test.field)",
        "some.field < val(test.field)",
        "some.field < b64(test.field)",
        "some.field >= val(test.field)",
        "some.field >= b64(test.field)",
        "some.field <= val(test.field)",
        "some.field <= b64(test.field)",
        "some.field in val(test.field)",
        "some.field in b64(test.field)",
        "some.field intersects val(test.field)",
        "some.field intersects b64(test.field)",
        "some.field pmatch val(test.field)",
        "some.field pmatch b64(test.field)",
        "(some.field = b64(test.field))",
        "some.field = b64(test.field) and some.field contains b64(test.field)",
        "some.field = b64(test.field) or some.field contains b64(test.field)",
        "not some.field = b64(test.field) or some.field contains b64(test.field)",
        "some.field = b64(test.field) or not some.field contains b64(test.field)",
        "some.field = b64(test.field) or (some.field contains b64(test.field))",
        "not (some.field = b64(test.field) or some.field contains b64(test.field))",
        "some.field = b64(toupper(test.field))",
        "some.field = toupper(b64(test.field))",
        "some.field = b64( test.field)",
        "some.field = b64(test.field )",
        "some.field = b64(test.field)",
        "some.field = b64(b64(test.field))",
        "some.field = b64( b64(test.field))",
        "some.field = b64(b64( test.field))",
        "some.field = b64(b64(test.field ))",
        "some.field = b64(b64(test.field) )",
        "tolower(some.field) = b64(test.field)",
        "tolower(some.field) = b64(test.field) or tolower(other.field) = tolower(anoter.field)",
        "some.field = b64 and(some_macro)",
        "some.field = b64 or(some_macro)",
        "some.field = 'some_fake_transformer(some_macro)'",
        "some.field = \"some_fake_transformer(some_macro)\"",
    ]);
    rejects(&[
        "some.field = b64and(some_macro)",
        "some.field = b64or(some_macro)",
        "some.field = val(test.field [1])",
        "some.field = some_fake_transformer(test.field)",
        "some.field = some_fake_transformer (test.field)",
        "some.field = some.fake.transformer(test.field)",
        "some.field = val(val(test.field))",
        "some.field = val(toupper(test.field))",
        "some.field = b64(val(test.field))",
        "some.field = b64 (test.field)",
        "some.field = b64,(test.field)",
        "some.field = (b64(test.field))",
        "some.field = (b64(test.field)",
        "some.field = (b64(test.field",
        "some.field = b64(test.field))",
        "some.field = b64(testfield))",
        "some.field = b64(test_field))",
        "some.field = b64(b64))",
        "some.field = ((b64(test.field)))",
        "some.field = b64\n(test.field)",
        "some.field = b64(test.field",
        "some.field = test.field)",
        "some.field = b64(b64(test.field",
        "some.field = b64(b64(test.field)",
        "some.field = b64(test.field))",
        "some.field = (test.field)",
        "some.field = (test.field",
        "some.field = test.field)",
        "some.field = a(test.field)",
        "some.field = aaaa(test.field)",
        "some.field = a(b(test.field))",
        "some.field in (b64(test.field))",
        "some.field in (a, b64(test.field))",
        "some.field in (a, b, b64(test.field))",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_basic)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_basic() {
    accepts(&[
        "join(\"-\", (fd.name, fd.directory)) = /tmp/test",
        "join(\",\", (proc.name, proc.pid)) = \"myproc,123\"",
        "join(\":\", (evt.type, evt.dir)) contains connect",
        "join('-', (fd.name, fd.directory)) = /tmp/test",
        "join('-->', (fd.name, fd.directory)) = /tmp/test",
        "join(\"-\", (fd.name)) = /tmp/test",
        "join(\"-\", (fd.name, fd.directory, proc.name, proc.pid)) = test",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_nested_transformers)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_nested_transformers() {
    accepts(&[
        "join(\"-\", (tolower(fd.name), fd.directory)) = /tmp/test",
        "join(\"-\", (toupper(fd.name), b64(fd.directory))) = /tmp/test",
        "join(\"-\", (tolower(toupper(fd.name)), fd.directory)) = /tmp/test",
        "join(\"-\", (tolower(fd.name), toupper(fd.directory))) = /tmp/test",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_with_values)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_with_values() {
    accepts(&[
        "join(\"-\", (\"aaa\", \"bbb\")) = aaa-bbb",
        "join(\"-\", ('aaa', 'bbb')) = aaa-bbb",
        "join(\"-\", (fd.name, \"literal\")) = /tmp-literal",
        "join(\"-\", (\"prefix\", fd.name, \"suffix\")) = prefix-/tmp-suffix",
        "join(\"-\", (proc.pid, 123)) contains 123",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_with_operators)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_with_operators() {
    accepts(&[
        "join(\"-\", (fd.name, fd.directory)) exists",
        "join(\"-\", (fd.name, fd.directory)) = value",
        "join(\"-\", (fd.name, fd.directory)) == value",
        "join(\"-\", (fd.name, fd.directory)) != value",
        "join(\"-\", (fd.name, fd.directory)) contains value",
        "join(\"-\", (fd.name, fd.directory)) startswith value",
        "join(\"-\", (fd.name, fd.directory)) endswith value",
        "join(\"-\", (fd.name, fd.directory)) glob value*",
        "join(\"-\", (fd.name, fd.directory)) in (a, b, c)",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_in_expressions)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_in_expressions() {
    accepts(&[
        "join(\"-\", (fd.name, fd.directory)) = /tmp and proc.name = cat",
        "join(\"-\", (fd.name, fd.directory)) = /tmp or proc.name = cat",
        "not join(\"-\", (fd.name, fd.directory)) = /tmp",
        "(join(\"-\", (fd.name, fd.directory)) = /tmp)",
        "proc.name = cat and join(\"-\", (fd.name, fd.directory)) = /tmp",
        "join(\"-\", (fd.name, fd.directory)) = /tmp and join(\":\", (proc.name, proc.pid)) = cat:123",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_right_hand)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_right_hand() {
    accepts(&[
        "evt.type = tolower(join(\"-\", (fd.name, fd.directory)))",
        "evt.type = b64(join(\"-\", (fd.name, fd.directory)))",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_with_outer_transformer)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_with_outer_transformer() {
    accepts(&[
        "toupper(join(\"-\", (fd.name, fd.directory))) = VALUE",
        "tolower(join(\"-\", (fd.name, fd.directory))) = value",
        "b64(join(\"-\", (fd.name, fd.directory))) = value",
        "len(join(\"-\", (fd.name, fd.directory))) = 10",
        "basename(join(\"/\", (fd.name, fd.directory))) = value",
        "toupper(tolower(join(\"-\", (fd.name, fd.directory)))) = VALUE",
        "b64(toupper(join(\"-\", (fd.name, fd.directory)))) = VALUE",
        "len(toupper(join(\"-\", (fd.name, fd.directory)))) = 10",
        "toupper(join(\"-\", (fd.name, fd.directory))) contains VALUE",
        "toupper(join(\"-\", (fd.name, fd.directory))) startswith VALUE",
        "len(join(\"-\", (fd.name, fd.directory))) > 5",
        "len(join(\"-\", (fd.name, fd.directory))) >= 5",
        "toupper(join(\"-\", (fd.name, fd.directory))) = VALUE and proc.name = cat",
        "not toupper(join(\"-\", (fd.name, fd.directory))) = VALUE",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_with_spaces)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_with_spaces() {
    accepts(&[
        "join(\"-\", ( fd.name, fd.directory )) = /tmp",
        "join(\"-\", (fd.name , fd.directory)) = /tmp",
        "join(\"-\", ( fd.name , fd.directory )) = /tmp",
        "join( \"-\", (fd.name, fd.directory)) = /tmp",
        "join(\"-\" , (fd.name, fd.directory)) = /tmp",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_empty)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_empty() {
    accepts(&["join(\"-\", ()) = /tmp"]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_transformer_list_invalid)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_transformer_list_invalid() {
    rejects(&[
        "join(\"-\", (fd.name, fd.directory) = /tmp",
        "join(\"-\", fd.name, fd.directory)) = /tmp",
        "join(\"-\", (,)) = /tmp",
        "join(\"-\", (,fd.name)) = /tmp",
        "join(\"-\", (fd.name,)) = /tmp",
        "join(\"-\", (fd.name,,fd.directory)) = /tmp",
        "join(\"-\", ((fd.name))) = /tmp",
        "join(\"-\", (macro)) = /tmp",
        "join(\"-\", (barestring)) = /tmp",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_str_op_modifier_accept)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_str_op_modifier_accept() {
    accepts(&[
        "proc.name == oneof (cat, nginx)",
        "proc.name == anyof (cat, nginx)",
        "proc.name == allof (cat, nginx)",
        "proc.name = oneof (cat, nginx)",
        "proc.name = anyof (cat, nginx)",
        "proc.name = allof (cat, nginx)",
        "proc.name != oneof (cat, nginx)",
        "proc.name != anyof (cat, nginx)",
        "proc.name != allof (cat, nginx)",
        "proc.name == oneof (cat)",
        "proc.name == oneof ()",
        "proc.name == oneof (cat, nginx, apache, httpd)",
        "proc.name == oneof ('single-quoted')",
        "proc.name == oneof (\"double-quoted\")",
        "proc.name == oneof ('cat', \"nginx\", bare)",
        "proc.exepath == oneof (/usr/bin/bash, /bin/sh, /usr/sbin/sshd)",
        "fd.name == oneof (/var/log/auth.log, /etc/passwd)",
        "proc.name == oneof allowed_processes",
        "proc.name != allof my_list",
        "proc.name == oneof oneof",
        "proc.name == anyof anyof",
        "evt.arg[0] == oneof (connect, accept)",
        "proc.aname[2] != oneof (bash, sh)",
        "tolower(proc.name) == oneof (cat, nginx)",
        "toupper(fd.name) != anyof (/TMP/A, /TMP/B)",
        "b64(proc.cmdline) == allof (\"dGVzdA==\")",
        "proc.name == 'oneof'",
        "proc.name == \"anyof\"",
        "proc.name == oneof",
        "proc.name == anyof",
        "proc.name == allof",
        "proc.name == oneof_something",
        "proc.name == anyof_extra",
        "proc.name == oneof (cat, nginx) and fd.name exists",
        "proc.name == oneof (cat, nginx) or fd.name exists",
        "not proc.name == oneof (cat, nginx)",
        "(proc.name == oneof (cat, nginx))",
        "proc.name == oneof (cat) and proc.name == anyof (nginx, apache)",
        "proc.name == oneof (cat) or proc.name != allof (nginx)",
        "proc.name == anyof and fd.name exists",
        "proc.name == oneof or fd.name exists",
        "proc.name == allof and fd.name exists",
        "proc.name == anyof and proc.name == allof",
        "proc.name == oneof and proc.name == anyof (cat)",
        "(proc.name == oneof)",
        "(proc.name == anyof) and fd.name exists",
        "(proc.name == allof) or (proc.name == oneof)",
        "proc.name contains oneof (cat, nginx)",
        "proc.name contains anyof (cat, nginx)",
        "proc.name contains allof (cat)",
        "proc.name startswith oneof (/proc/, /sys/)",
        "proc.name startswith anyof (/proc/, /sys/)",
        "proc.name endswith allof (.so, .so.1)",
        "proc.name glob oneof (cat*, *dog)",
        "proc.name glob anyof (cat*, *nginx*)",
        "proc.name iglob allof (cat*)",
        "proc.name icontains anyof (cat, nginx)",
        "proc.name != oneof (a) and proc.name contains anyof (x, y)",
    ]);
}

// libs userspace/libsinsp/test/filter_parser.ut.cpp, TEST(parser, parse_str_op_modifier_reject)
#[test]
#[allow(clippy::too_many_lines)] // a data table
fn parse_str_op_modifier_reject() {
    rejects(&[
        "proc.name == oneof (cat,)",
        "proc.name == oneof (cat,,nginx)",
        "proc.name == oneof (,cat)",
        "proc.name == oneof (cat, nginx",
        "proc.name ==oneof (cat, nginx)",
        "proc.name !=anyof (cat, nginx)",
        "proc.name =allof (cat, nginx)",
        "proc.name ==oneof(cat, nginx)",
        "proc.name == oneof(cat, nginx)",
        "proc.name == anyof(cat, nginx)",
        "proc.name == allof(cat)",
        "proc.name == ONEOF (cat)",
        "proc.name == Anyof (cat)",
        "proc.name == ALLOF (cat)",
        "proc.num > oneof (1, 2)",
        "proc.num <= anyof (1, 2)",
        "proc.name contains oneof(cat, nginx)",
        "proc.name startswith anyof(cat)",
        "proc.name endswith allof(.so)",
        "proc.name contains ONEOF (cat)",
        "proc.name startswith Anyof (cat)",
        "proc.name endswith ALLOF (.so)",
        "proc.name == oneof_something (cat)",
        "proc.name startswith oneof_something (cat)",
        "proc.name contains anyof_extra (cat, nginx)",
        "proc.name in oneof (cat)",
        "proc.name intersects anyof (cat)",
        "proc.name pmatch allof (cat)",
    ]);
}
