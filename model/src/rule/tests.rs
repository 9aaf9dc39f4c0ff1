//! Parser, printer, evaluation and rules-file tests.

use super::*;
use crate::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use proptest::prelude::*;
use std::sync::Arc;

fn event(exe: &str, args: &[&str], ancestors: &[&str], kind: EventKind) -> Event {
    Event {
        ts_ms: 1,
        container: ContainerRef {
            id: "abc".into(),
            image: "nginx".into(),
            version: "1.25".into(),
            ..Default::default()
        },
        process: ProcessInfo {
            pid: 9,
            exec_path: exe.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            uid: 33,
            gid: 33,
            ancestors: ancestors.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        kind,
    }
}

fn exec(exe: &str, args: &[&str], ancestors: &[&str]) -> Event {
    event(exe, args, ancestors, EventKind::Exec)
}

fn open(path: &str, access: Access) -> Event {
    event(
        "/bin/cat",
        &["cat"],
        &["/bin/sh"],
        EventKind::Open {
            path: path.into(),
            access,
            errno: 0,
            requested: None,
        },
    )
}

fn holds(src: &str, ev: &Event) -> bool {
    parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .matches(ev)
}

fn err(src: &str) -> String {
    parse(src).unwrap_err().to_string()
}

// --- evaluation ------------------------------------------------------------------------

#[test]
fn absent_fields_make_every_test_false() {
    let ev = exec("/bin/sh", &["sh"], &[]);
    assert!(!holds(r#"open.file.path == "/etc/shadow""#, &ev));
    assert!(!holds(r#"open.file.path != "/etc/shadow""#, &ev));
    assert!(!holds(r#"open.file.path not in ["/x"]"#, &ev));
    assert!(!holds(r#""read" not in open.flags"#, &ev));
    assert!(!holds("chmod.file.setuid", &ev));
    assert!(!holds("process.parent.file.name == \"x\"", &ev));
    // ...but a negated test is an ordinary negation.
    assert!(holds(r#"!(open.file.path == "/etc/shadow")"#, &ev));
}

#[test]
fn an_open_matches_by_the_kernels_path_and_by_the_path_the_caller_asked_for() {
    let mut ev = open("/etc/shadow", Access::READ);
    // Asked for as itself: the requested path is the path.
    assert!(holds(r#"open.file.requested_path == "/etc/shadow""#, &ev));
    // Through a symlink: each field sees its own path.
    if let EventKind::Open { requested, .. } = &mut ev.kind {
        *requested = Some("/tmp/s".into());
    }
    assert!(holds(r#"open.file.path == "/etc/shadow""#, &ev));
    assert!(holds(r#"open.file.requested_path ~ "/tmp/*""#, &ev));
    assert!(!holds(r#"open.file.requested_path == "/etc/shadow""#, &ev));
    assert_eq!(ev.summary(), "open /etc/shadow (read) requested as /tmp/s");
    // Not a field of other kinds.
    assert!(!holds(
        r#"open.file.requested_path == "/bin/sh""#,
        &exec("/bin/sh", &["sh"], &[])
    ));
}

#[test]
fn string_list_and_integer_operators() {
    let ev = exec(
        "/bin/bash",
        &["bash", "-c", "curl http://x | sh"],
        &["/bin/sh", "/usr/sbin/nginx"],
    );
    assert!(holds(
        r#"exec.file.name == "bash" && exec.file.path ~ "/bin/*""#,
        &ev
    ));
    assert!(holds(r#"exec.file.name in ["sh", "bash"]"#, &ev));
    assert!(!holds(r#"exec.file.name not in ["sh", "bash"]"#, &ev));
    assert!(holds(r#"process.ancestors.file.name == "nginx""#, &ev));
    assert!(holds(r#"process.ancestors.file.path ~ "/usr/**""#, &ev));
    assert!(!holds(r#"process.ancestors.file.name == "apache2""#, &ev));
    assert!(holds(r#"process.ancestors.file.name != "apache2""#, &ev));
    assert!(holds(
        r#"process.ancestors.file.path == ["/bin/sh", "/usr/sbin/nginx"]"#,
        &ev
    ));
    assert!(!holds(
        r#"process.ancestors.file.path == ["/usr/sbin/nginx", "/bin/sh"]"#,
        &ev
    ));
    assert!(holds(
        r#"process.ancestors.file.name == ["sh", "nginx"]"#,
        &ev
    ));
    assert!(holds(r#"process.parent.file.name == "sh""#, &ev));
    // argv: elements for ==/in/membership, joined text for ~ =~ contains.
    assert!(holds(r#"exec.args == "-c""#, &ev));
    assert!(holds(r#""-c" in exec.args && "-x" not in exec.args"#, &ev));
    assert!(holds(r#"exec.args contains "| sh""#, &ev));
    assert!(holds(r#"exec.args =~ r"curl\s+http""#, &ev));
    assert!(holds(r#"exec.args ~ "bash -c curl**""#, &ev));
    assert!(holds(
        r#"exec.args == ["bash", "-c", "curl http://x | sh"]"#,
        &ev
    ));
    assert!(holds(
        "process.uid >= 33 && process.uid < 34 && process.gid == 0x21",
        &ev
    ));
    assert!(!holds("process.uid > 33", &ev));
    assert!(holds(
        r#"process.user == "33" && container.image.name == "nginx""#,
        &ev
    ));
    assert!(holds(r#"event.kind == "exec""#, &ev));
}

#[test]
fn open_flags_and_chmod_helpers() {
    let ev = open("/etc/shadow", Access::READ.union(Access::WRITE));
    assert!(holds(
        r#""write" in open.flags && open.file.name == "shadow""#,
        &ev
    ));
    assert!(!holds(r#""truncate" in open.flags"#, &ev));
    assert!(holds(r#"open.flags == ["read", "write"]"#, &ev));
    let chmod = |mode| {
        event(
            "/bin/chmod",
            &[],
            &[],
            EventKind::Chmod {
                path: "/tmp/x".into(),
                mode,
            },
        )
    };
    assert!(holds(
        "chmod.file.setuid && chmod.file.mode == 0o4755",
        &chmod(0o4755)
    ));
    assert!(!holds("chmod.file.setuid", &chmod(0o755)));
    assert!(holds("chmod.file.executable == true", &chmod(0o755)));
    assert!(holds("chmod.file.setgid", &chmod(0o2755)));
}

#[test]
fn precedence_and_short_circuit() {
    let ev = exec("/bin/sh", &[], &[]);
    // && binds tighter than ||.
    assert!(holds("true || false && false", &ev));
    assert!(!holds("(true || false) && false", &ev));
    assert!(holds("!false && !!true", &ev));
    assert_eq!(
        parse("a.b == 1").unwrap_err().kind,
        ParseErrorKind::UnknownField {
            name: "a.b".into(),
            suggestion: Suggestion(None)
        }
    );
}

#[test]
fn kinds_prefilter_follows_fields_and_event_kind() {
    let k = |src: &str| parse(src).unwrap().kinds().names();
    assert_eq!(k(r#"open.file.path == "/x""#), vec!["open"]);
    assert_eq!(
        k(r#"open.file.path == "/x" || dns.question.name == "a""#),
        vec!["open", "dns"]
    );
    assert!(k(r#"open.file.path == "/x" && dns.question.name == "a""#).is_empty());
    assert_eq!(k(r#"event.kind == "bpf" && process.uid == 0"#), vec!["bpf"]);
    assert_eq!(k(r#"event.kind in ["mount", "bpf"]"#), vec!["bpf", "mount"]);
    assert_eq!(k(r#"!(open.file.path == "/x")"#).len(), KIND_NAMES.len());
    assert_eq!(k("process.uid == 0").len(), KIND_NAMES.len());
}

// --- parse errors ----------------------------------------------------------------------

#[test]
fn errors_name_line_column_expected_and_found() {
    assert_eq!(
        err(r#"exec.file.name == "sh" &&"#),
        "line 1, column 26: expected a condition (field, macro, `!`, `(` or literal), found end of expression"
    );
    assert_eq!(
        err("exec.file.name ==\n  42"),
        "line 2, column 3: expected a string for `exec.file.name`, found integer 42"
    );
    assert_eq!(
        err(r#"(exec.file.name == "sh""#),
        "line 1, column 24: expected `)`, found end of expression"
    );
    assert_eq!(
        err(r#"exec.file.name "sh""#),
        "line 1, column 16: expected an operator after `exec.file.name` (`==`, `!=`, `in`, `not in`, `~`, `=~`, `contains`), found string \"sh\""
    );
    assert_eq!(
        err(r#"exec.file.name in ["a" "b"]"#),
        "line 1, column 24: expected `,` or `]`, found string \"b\""
    );
    assert_eq!(
        err(r#"exec.file.name == "a" "b""#),
        "line 1, column 23: expected `&&`, `||` or end of expression, found string \"b\""
    );
    assert_eq!(
        err(r#"exec.file.name < 3"#),
        "line 1, column 16: `<` does not apply to `exec.file.name`, which is a string"
    );
    assert_eq!(
        err(r#"process.uid ~ "1*""#),
        "line 1, column 13: `~` does not apply to `process.uid`, which is an integer"
    );
    assert_eq!(
        err(r#"exec.file.name not "x""#),
        "line 1, column 20: expected `in` after `not`, found string \"x\""
    );
}

#[test]
fn unknown_names_suggest_close_ones() {
    assert_eq!(
        err("exec.file.nmae == \"sh\""),
        "line 1, column 1: unknown field `exec.file.nmae` (did you mean `exec.file.name`?)"
    );
    assert_eq!(
        err("x && open.flag == \"read\""),
        "line 1, column 1: unknown macro `x`"
    );
    assert_eq!(
        err("true && open.flag == \"read\""),
        "line 1, column 9: unknown field `open.flag` (did you mean `open.flags`?)"
    );
    assert_eq!(
        err("event.kind == \"exce\""),
        "line 1, column 15: unknown event kind `exce` (did you mean `exec`?)"
    );
    assert!(
        err("\"wrte\" in open.flags").starts_with("line 1, column 1: unknown file access `wrte`")
    );
    let mut m = Macros::default();
    m.insert_list("shell_binaries", vec![Scalar::Str("sh".into())]);
    assert_eq!(
        parse_with("exec.file.name in shell_binarys", &m)
            .unwrap_err()
            .to_string(),
        "line 1, column 19: unknown macro `shell_binarys` (did you mean `shell_binaries`?)"
    );
    assert_eq!(
        parse_with("shell_binaries", &m).unwrap_err().to_string(),
        "line 1, column 1: expected a condition (field, macro, `!`, `(` or literal), found list macro `shell_binaries`"
    );
}

#[test]
fn bad_patterns_and_literals_are_reported_where_they_are() {
    let e = parse("exec.file.path =~ r\"(oops\"").unwrap_err();
    assert_eq!((e.line, e.column), (1, 19));
    assert!(matches!(e.kind, ParseErrorKind::InvalidRegex { .. }), "{e}");
    let e = parse("exec.file.path == \"abc").unwrap_err();
    assert_eq!(e.to_string(), "line 1, column 19: unterminated string");
    let e = parse("process.uid == 99999999999999999999").unwrap_err();
    assert!(
        matches!(e.kind, ParseErrorKind::IntegerOutOfRange(_)),
        "{e}"
    );
}

#[test]
fn nesting_is_bounded() {
    let deep = format!(
        "{}true{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(matches!(
        parse(&deep).unwrap_err().kind,
        ParseErrorKind::TooDeep(_)
    ));
    let ok = format!("{}true{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&ok), Ok(Expr::Literal(true)));
    let bangs = format!("{}true", "!".repeat(MAX_DEPTH + 1));
    assert!(parse(&bangs).is_err());
    let chain = |n: usize| vec!["true"; n + 1].join(" && ");
    assert!(parse(&chain(MAX_OPERATORS)).is_ok());
    let e = parse(&chain(MAX_OPERATORS + 1)).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooLong(MAX_OPERATORS));
    assert_eq!(e.column, MAX_OPERATORS * 8 + 6);
}

// --- printer ---------------------------------------------------------------------------

#[test]
fn printer_is_canonical_and_minimal() {
    let cases = [
        ("a_b", None),
        (
            "exec.file.name in [\"sh\",\"bash\",]",
            Some(r#"exec.file.name in ["sh", "bash"]"#),
        ),
        ("(true || false) && !(false || true)", None),
        ("true || (false && true)", Some("true || false && true")),
        ("true && (false && true)", None),
        ("((true && false) && true)", Some("true && false && true")),
        (r#"exec.args =~ "\\d+\"""#, Some(r#"exec.args =~ "\\d+\"""#)),
        (r#"exec.args =~ "\\d+""#, Some(r#"exec.args =~ r"\d+""#)),
        ("chmod.file.mode == 0o4000", Some("chmod.file.mode == 2048")),
        (r#"!"x" not in exec.args"#, None),
    ];
    let mut m = Macros::default();
    m.insert_list("a", vec![]);
    let m = Macros::resolve(
        &m,
        &[("a_b".to_string(), RawMacro::Expr("true".into()))]
            .into_iter()
            .collect(),
        "test",
    )
    .unwrap();
    for (src, want) in cases {
        let e = parse_with(src, &m).unwrap_or_else(|e| panic!("{src}: {e}"));
        let printed = e.to_string();
        assert_eq!(printed, want.unwrap_or(src), "printing {src}");
        assert_eq!(parse_with(&printed, &m), Ok(e), "reparsing {printed}");
    }
}

#[test]
fn suppression_expression_pins_image_process_and_lineage() {
    let e = suppression_expr("nginx", "/bin/sh", &["/usr/sbin/nginx".to_string()]);
    assert_eq!(
        e.to_string(),
        r#"container.image.name == "nginx" && process.file.path == "/bin/sh" && process.ancestors.file.path == ["/usr/sbin/nginx"]"#
    );
    assert_eq!(parse(&e.to_string()), Ok(e.clone()));
    assert!(e.matches(&exec("/bin/sh", &[], &["/usr/sbin/nginx"])));
    assert!(!e.matches(&exec("/bin/sh", &[], &["/bin/bash", "/usr/sbin/nginx"])));
    assert!(!e.matches(&exec("/bin/bash", &[], &["/usr/sbin/nginx"])));
    let root = suppression_expr("redis", "/usr/bin/redis-server", &[]);
    let mut ev = exec("/usr/bin/redis-server", &[], &[]);
    ev.container.image = "redis".into();
    assert!(root.matches(&ev));
    assert_eq!(parse(&root.to_string()), Ok(root));
}

/// Strings the parser must accept anywhere (any Unicode, quotes, escapes, controls).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z/._*?-]{0,12}",
        any::<String>(),
        Just("\"\\\n\t\r\u{0}\u{7f}".to_string()),
    ]
}

fn values_for(field: Field) -> BoxedStrategy<Scalar> {
    match (field, field.ty()) {
        (Field::EventKindName, _) => proptest::sample::select(KIND_NAMES.to_vec())
            .prop_map(|s| Scalar::Str(s.into()))
            .boxed(),
        (Field::OpenFlags, _) => proptest::sample::select(Access(u16::MAX).names())
            .prop_map(|s| Scalar::Str(s.into()))
            .boxed(),
        (_, FieldType::Int) => any::<i64>().prop_map(Scalar::Int).boxed(),
        (_, FieldType::Bool) => any::<bool>().prop_map(Scalar::Bool).boxed(),
        _ => text().prop_map(Scalar::Str).boxed(),
    }
}

fn leaf(macros: Arc<Macros>) -> impl Strategy<Value = Expr> {
    let field = proptest::sample::select(Field::ALL.to_vec());
    let test = field.prop_flat_map(move |f| {
        let ty = f.ty();
        let scalar = values_for(f);
        let list = prop::collection::vec(values_for(f), 0..4).prop_map(List::literal);
        let mut options: Vec<BoxedStrategy<Test>> = vec![
            (any::<bool>(), scalar.clone())
                .prop_map(|(ne, v)| {
                    Test::Compare(if ne { CompareOp::Ne } else { CompareOp::Eq }, v)
                })
                .boxed(),
            (any::<bool>(), list.clone())
                .prop_map(|(negated, list)| Test::In { negated, list })
                .boxed(),
        ];
        if ty == FieldType::Int {
            let ops = proptest::sample::select(vec![
                CompareOp::Lt,
                CompareOp::Le,
                CompareOp::Gt,
                CompareOp::Ge,
            ]);
            options.push(
                (ops, scalar.clone())
                    .prop_map(|(op, v)| Test::Compare(op, v))
                    .boxed(),
            );
        }
        if ty.is_list() {
            options.push(
                (any::<bool>(), list)
                    .prop_map(|(negated, list)| Test::ListEq { negated, list })
                    .boxed(),
            );
        }
        if matches!(ty, FieldType::Str | FieldType::StrList | FieldType::Args) {
            options.push(text().prop_map(Test::Contains).boxed());
            options.push(
                text()
                    .prop_map(|s| Test::Regex(Pattern::new(&regex::escape(&s)).unwrap()))
                    .boxed(),
            );
            options.push(
                text()
                    .prop_map(|s| Test::Glob(Globs::One(Glob::new(&s).unwrap())))
                    .boxed(),
            );
            options.push(
                prop::collection::vec(text(), 0..3)
                    .prop_map(|v| {
                        Test::Glob(Globs::List {
                            macro_name: None,
                            globs: v.iter().map(|s| Glob::new(s).unwrap()).collect(),
                        })
                    })
                    .boxed(),
            );
            if f != Field::EventKindName && f != Field::OpenFlags {
                options.push(
                    Just(Test::In {
                        negated: false,
                        list: List {
                            macro_name: Some("words".into()),
                            items: vec![Scalar::Str("a".into()), Scalar::Str("b c".into())],
                        },
                    })
                    .boxed(),
                );
            }
        }
        proptest::strategy::Union::new(options).prop_map(move |t| Expr::Test { field: f, test: t })
    });
    let member_field = proptest::sample::select(
        Field::ALL
            .iter()
            .copied()
            .filter(|f| f.ty().is_list())
            .collect::<Vec<_>>(),
    );
    let member = (member_field, any::<bool>()).prop_flat_map(|(f, negated)| {
        values_for(f).prop_map(move |item| Expr::Member {
            item,
            field: f,
            negated,
        })
    });
    let flag = proptest::sample::select(
        Field::ALL
            .iter()
            .copied()
            .filter(|f| f.ty() == FieldType::Bool)
            .collect::<Vec<_>>(),
    )
    .prop_map(Expr::Flag);
    let body = match macros.get("is_root") {
        Some(MacroDef::Expr { expr, .. }) => expr.clone(),
        _ => unreachable!("test macro"),
    };
    prop_oneof![
        4 => test,
        1 => member,
        1 => flag,
        1 => any::<bool>().prop_map(Expr::Literal),
        1 => Just(Expr::Macro { name: "is_root".into(), body }),
    ]
}

fn test_macros() -> Macros {
    let raw = [
        (
            "words".to_string(),
            RawMacro::List(vec![Scalar::Str("a".into()), Scalar::Str("b c".into())]),
        ),
        (
            "is_root".to_string(),
            RawMacro::Expr("process.uid == 0".into()),
        ),
    ];
    Macros::resolve(&Macros::default(), &raw.into_iter().collect(), "test").unwrap()
}

fn expr_strategy() -> impl Strategy<Value = Expr> {
    let macros = Arc::new(test_macros());
    leaf(macros).prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(Expr::not),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Expr::and(a, b)),
            (inner.clone(), inner).prop_map(|(a, b)| Expr::or(a, b)),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(e in expr_strategy()) {
        let macros = test_macros();
        let printed = e.to_string();
        let back = parse_with(&printed, &macros);
        prop_assert_eq!(back, Ok(e), "printed: {}", printed);
    }

    #[test]
    fn parser_never_panics_on_arbitrary_text(s in "\\PC{0,64}") {
        let _ = parse(&s);
    }
}

// --- rules files -----------------------------------------------------------------------

const TOML_RULES: &str = r#"
[macros]
shells = ["sh", "bash"]
web = 'process.ancestors.file.name in ["nginx"]'
web_shell = 'exec.file.name in shells && web'

[[rules]]
id = "web-shell"
description = "shell from nginx"
expression = 'web_shell'
severity = "high"
mitre = "T1505.003"
tags = ["process"]

[[rules]]
id = "shadow"
description = "shadow read"
expression = '''
open.file.path == "/etc/shadow"
  && "read" in open.flags
'''
severity = "critical"
enabled = false
"#;

#[test]
fn toml_rules_load_and_match() {
    let set = RuleSet::parse(TOML_RULES, RuleFormat::Toml, "t.toml").unwrap();
    assert_eq!(set.len(), 2);
    let r = set.get("web-shell").unwrap();
    assert_eq!(r.severity, Severity::High);
    assert_eq!(r.mitre.as_deref(), Some("T1505.003"));
    assert_eq!(r.expression.kinds().names(), vec!["exec"]);
    let ev = exec("/bin/bash", &[], &["/usr/sbin/nginx"]);
    let hits: Vec<&str> = set.matching(&ev).map(|r| r.id.as_str()).collect();
    assert_eq!(hits, vec!["web-shell"]);
    // Disabled rules never match.
    assert_eq!(set.matching(&open("/etc/shadow", Access::READ)).count(), 0);
    assert!(set
        .get("shadow")
        .unwrap()
        .expression
        .expr()
        .matches(&open("/etc/shadow", Access::READ)));
}

#[test]
fn yaml_rules_load() {
    let yaml = r#"
macros:
  shells: [sh, bash]
rules:
  - id: y-1
    description: d
    expression: exec.file.name in shells
    severity: low
"#;
    let set = RuleSet::parse(yaml, RuleFormat::Yaml, "u.yaml").unwrap();
    assert_eq!(set.rules()[0].severity, Severity::Low);
    assert!(set.rules()[0].enabled);
    assert_eq!(set.rules()[0].mitre, None);
    assert!(set.matching(&exec("/bin/sh", &[], &[])).next().is_some());
}

#[test]
fn rule_file_errors_name_origin_rule_and_position() {
    let bad_expr = TOML_RULES.replace("&& \"read\" in open.flags", "&& \"read\" in open.flagz");
    let e = RuleSet::parse(&bad_expr, RuleFormat::Toml, "t.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:20: rule `shadow`: line 2, column 16: unknown field `open.flagz` (did you mean `open.flags`?)"
    );
    let e = RuleSet::parse(
        "[[rules]]\nid = \"x\"\nexpression = 3\n",
        RuleFormat::Toml,
        "t.toml",
    )
    .unwrap_err();
    assert!(
        matches!(e, RuleFileError::Syntax { line: Some(3), .. }),
        "{e}"
    );
    let e = RuleSet::parse(
        "rules:\n  - id: x\n    severity: [\n",
        RuleFormat::Yaml,
        "u.yaml",
    )
    .unwrap_err();
    assert!(
        matches!(e, RuleFileError::Syntax { line: Some(_), .. }),
        "{e}"
    );
    assert!(e.to_string().starts_with("u.yaml:"), "{e}");
    let e = RuleSet::parse(
        "rules:\n  - id: x\n    description: d\n    expression: 'exec.file.name =='\n    severity: low\n",
        RuleFormat::Yaml,
        "u.yaml",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "u.yaml: rule `x`: line 1, column 18: expected a string for `exec.file.name`, found end of expression"
    );
    let e = RuleSet::parse("[[rules]]\nid = \"x\"\ndescription = \"d\"\nexpression = \"true\"\nseverity = \"urgent\"\n", RuleFormat::Toml, "t.toml").unwrap_err();
    assert!(e.to_string().contains("urgent"), "{e}");
}

#[test]
fn rule_file_validation() {
    let rule = |id: &str, mitre: &str| {
        format!("[[rules]]\nid = \"{id}\"\ndescription = \"d\"\nexpression = \"true\"\nseverity = \"low\"\nmitre = \"{mitre}\"\n")
    };
    let dup = rule("a-b", "T1059") + &rule("a-b", "T1059.004");
    assert_eq!(
        RuleSet::parse(&dup, RuleFormat::Toml, "d.toml").unwrap_err(),
        RuleFileError::DuplicateId {
            origin: "d.toml".into(),
            id: "a-b".into()
        }
    );
    assert!(matches!(
        RuleSet::parse(&rule("Not_Kebab", "T1059"), RuleFormat::Toml, "d.toml").unwrap_err(),
        RuleFileError::BadId { .. }
    ));
    assert!(matches!(
        RuleSet::parse(&rule("ok", "T10"), RuleFormat::Toml, "d.toml").unwrap_err(),
        RuleFileError::BadMitre { .. }
    ));
    let cycle = "[macros]\na = 'b'\nb = 'a'\n";
    assert!(matches!(
        RuleSet::parse(cycle, RuleFormat::Toml, "c.toml").unwrap_err(),
        RuleFileError::MacroCycle { .. }
    ));
    let unknown = "[macros]\na = 'nope && true'\n";
    assert_eq!(
        RuleSet::parse(unknown, RuleFormat::Toml, "c.toml")
            .unwrap_err()
            .to_string(),
        "c.toml: macro `a`: line 1, column 1: unknown macro `nope`"
    );
    assert!(matches!(
        RuleSet::parse("[macros]\n\"a.b\" = []\n", RuleFormat::Toml, "c.toml").unwrap_err(),
        RuleFileError::BadMacroName { .. }
    ));
    assert!(RuleSet::parse("", RuleFormat::Toml, "e.toml")
        .unwrap()
        .is_empty());
    assert!(RuleSet::parse("", RuleFormat::Yaml, "e.yaml")
        .unwrap()
        .is_empty());
}

#[test]
fn merge_overrides_by_id_and_recompiles_with_new_macros() {
    let mut base = RuleSet::parse(TOML_RULES, RuleFormat::Toml, "base.toml").unwrap();
    let user = r#"
macros:
  shells: [zsh]
rules:
  - id: shadow
    description: overridden
    expression: open.file.path == "/etc/gshadow"
    severity: medium
  - id: extra
    description: new
    expression: exec.file.name in shells
    severity: info
"#;
    base.extend_from_text(user, RuleFormat::Yaml, "user.yaml")
        .unwrap();
    let ids: Vec<&str> = base.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["web-shell", "shadow", "extra"]);
    assert_eq!(base.get("shadow").unwrap().severity, Severity::Medium);
    assert_eq!(base.get("shadow").unwrap().origin, "user.yaml");
    // `web_shell` (a base macro) now sees the user's `shells` list.
    let zsh = exec("/bin/zsh", &[], &["/usr/sbin/nginx"]);
    let bash = exec("/bin/bash", &[], &["/usr/sbin/nginx"]);
    assert!(base.get("web-shell").unwrap().matches(&zsh));
    assert!(!base.get("web-shell").unwrap().matches(&bash));
    assert_eq!(base.get("web-shell").unwrap().origin, "base.toml");
}

#[test]
fn rule_format_from_path() {
    assert_eq!(RuleFormat::from_path("a/b.TOML"), Some(RuleFormat::Toml));
    assert_eq!(RuleFormat::from_path("x.yml"), Some(RuleFormat::Yaml));
    assert_eq!(RuleFormat::from_path("x.json"), None);
    assert_eq!("high".parse::<Severity>(), Ok(Severity::High));
    assert!(Severity::Critical > Severity::High);
}

#[test]
fn rules_that_read_command_lines_are_known() {
    let rules = RuleSet::defaults();
    let uses = |id: &str| rules.get(id).unwrap().expression.expr().uses_command_line();
    assert!(uses("curl-pipe-shell"));
    assert!(uses("reverse-shell-dev-tcp"));
    assert!(!uses("shell-spawned-by-web-server"));
    assert!(!uses("shadow-file-read"));
    // through a macro too
    let set = RuleSet::parse(
        "[macros]\nfetch = 'exec.args contains \"http\"'\n[[rules]]\nid = \"m\"\ndescription = \"d\"\nseverity = \"low\"\nexpression = 'fetch && exec.file.name == \"x\"'\n",
        RuleFormat::Toml,
        "t.toml",
    )
    .unwrap();
    assert!(set.get("m").unwrap().expression.expr().uses_command_line());
}

#[test]
fn container_tags_match_whole_tags() {
    let mut ev = exec("/bin/sh", &["sh"], &[]);
    ev.container.tags = vec![
        "namespace:prod-eu".into(),
        "pod:web-1".into(),
        "team:payments".into(),
    ];
    // `contains` on tags is membership of a whole `key:value`, never a substring.
    assert!(!holds(r#"container.tags contains "namespace:prod""#, &ev));
    assert!(holds(r#"container.tags contains "namespace:prod-eu""#, &ev));
    assert!(holds(r#""pod:web-1" in container.tags"#, &ev));
    assert!(holds(r#"container.tags ~ "namespace:prod*""#, &ev));
    assert!(holds(r#"container.tags =~ "^team:""#, &ev));
    assert!(!holds(r#"container.tags contains "pod:web-2""#, &ev));
    ev.container.tags.clear();
    assert!(!holds(
        r#"container.tags contains "namespace:prod-eu""#,
        &ev
    ));
    assert!(holds(
        r#"!(container.tags contains "namespace:prod-eu") && container.image.name == "nginx""#,
        &ev
    ));
}
