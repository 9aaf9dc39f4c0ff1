//! Bad input gets one clear line naming the input and the problem, a non-zero exit, and
//! nothing lost; a panic in the UI leaves the terminal restored.

use std::process::{Command, Output};

fn wsprof(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(args)
        .arg("--log-file")
        .arg(dir.join("wsprof.log"))
        .env("XDG_CONFIG_HOME", dir)
        .output()
        .unwrap()
}

/// The error: exit 1 and exactly one line on stderr.
fn one_line_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("wsprof: "), "{err}");
    err
}

#[test]
fn bad_rules_keymaps_databases_and_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let rules = d.join("bad.toml");
    std::fs::write(
        &rules,
        "[[rules]]\nid = \"x\"\ndescription = \"d\"\nseverity = \"high\"\nexpression = '''\nopen.file.path == \"/a\" &&\n'''\n",
    )
    .unwrap();
    let e = one_line_error(&wsprof(&["rules", "check", rules.to_str().unwrap()], d));
    assert!(e.contains("bad.toml") && e.contains("line 2"), "{e}");

    let good_rules = d.join("good.yaml");
    std::fs::write(
        &good_rules,
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../rules/example-user-rules.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let ok = wsprof(&["rules", "check", good_rules.to_str().unwrap()], d);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    let keymap = d.join("keys.toml");
    std::fs::write(
        &keymap,
        "keymap = [\n  { on = \"q\", run = \"quit\" },\n  { on = \"z\", run = \"explode\" },\n]\n",
    )
    .unwrap();
    let db = d.join("never.duckdb");
    let e = one_line_error(&wsprof(
        &[
            "demo",
            "--keymap",
            keymap.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ],
        d,
    ));
    assert!(
        e.contains("keys.toml:3") && e.contains("unknown action `explode`"),
        "{e}"
    );
    assert!(!db.exists(), "nothing created on a bad keymap");

    let junk = d.join("junk.duckdb");
    std::fs::write(&junk, vec![7u8; 4096]).unwrap();
    let e = one_line_error(&wsprof(&["profiles", "--db", junk.to_str().unwrap()], d));
    assert!(
        e.contains("junk.duckdb") && e.contains("not a usable DuckDB file"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![7u8; 4096],
        "a damaged file is left as it was"
    );

    let missing = d.join("missing.duckdb");
    let e = one_line_error(&wsprof(&["signals", "--db", missing.to_str().unwrap()], d));
    assert!(
        e.contains("missing.duckdb") && e.contains("no such file"),
        "{e}"
    );
    assert!(!missing.exists());

    // a store with data, then a corrupt import that must not change it
    let store = d.join("s.duckdb");
    let out = wsprof(
        &[
            "demo",
            "--speed",
            "max",
            "--headless",
            "--db",
            store.to_str().unwrap(),
        ],
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = wsprof(&["profiles", "--json", "--db", store.to_str().unwrap()], d).stdout;
    let corrupt = d.join("snaps.json");
    std::fs::write(
        &corrupt,
        "{\"format\":\"wsprof-snapshots\",\"version\":1,\"snapshots\":[{\"id\":",
    )
    .unwrap();
    let e = one_line_error(&wsprof(
        &[
            "snapshots",
            "import",
            corrupt.to_str().unwrap(),
            "--db",
            store.to_str().unwrap(),
        ],
        d,
    ));
    assert!(
        e.contains("snaps.json") && e.contains("not valid snapshot JSON"),
        "{e}"
    );
    let after = wsprof(&["profiles", "--json", "--db", store.to_str().unwrap()], d).stdout;
    assert_eq!(before, after, "nothing partially written");

    let e = one_line_error(&wsprof(
        &["profile", "show", "nope", "--db", store.to_str().unwrap()],
        d,
    ));
    assert!(e.contains("`nope` is not IMAGE:VERSION"), "{e}");
    let e = one_line_error(&wsprof(
        &["suppress", "999999", "--db", store.to_str().unwrap()],
        d,
    ));
    assert!(e.contains("no signal with id 999999"), "{e}");
    let e = one_line_error(&wsprof(&["demo", "--db", store.to_str().unwrap()], d));
    assert!(e.contains("already exists"), "{e}");

    let status = wsprof(&["status", "--db", store.to_str().unwrap()], d);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("12 profiles") && text.contains("no live capture"),
        "{text}"
    );
}

#[test]
fn terminal_is_restored_after_a_panic() {
    let have_tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_tmux {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("tmux is required in CI");
        }
        eprintln!("SKIP terminal_is_restored_after_a_panic: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let session = format!("wsprof-panic-{}", std::process::id());
    let cmd = format!(
        "WSPROF_TEST_PANIC_AFTER_FIRST_FRAME=1 XDG_CONFIG_HOME={d} {bin} demo --speed max --db {d}/p.duckdb --log-file {d}/log 2> {d}/stderr; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; echo DONE; sleep 20",
        d = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_wsprof")
    );
    Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "-s",
            &session,
            &cmd,
        ])
        .status()
        .unwrap();
    let start = std::time::Instant::now();
    let screen = loop {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &session])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout).to_string();
        if s.contains("DONE") || start.elapsed() > std::time::Duration::from_secs(60) {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .status();
    assert!(screen.contains("DONE"), "{screen}");
    assert!(
        screen.lines().any(|l| l.trim() == "icanon"),
        "terminal left in raw mode:\n{screen}"
    );
    assert!(
        !screen.contains("Images:"),
        "alternate screen not left:\n{screen}"
    );
    assert!(screen.contains("EXIT=101"), "{screen}");
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(stderr.contains("panic requested"), "{stderr}");
}

#[test]
fn config_show_and_bad_config_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("config.toml");
    std::fs::write(
        &cfg,
        "[lifecycle]\nsnapshots_to_stable = 50\n\n[signals]\nsuggestion_threshold = \"100%\"\n",
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    let out = wsprof(
        &["config", "show", "--config", cfg_s, "--db", "/tmp/x.duckdb"],
        d,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in {text}"))
            .to_string()
    };
    let l = line("lifecycle.snapshots_to_stable");
    assert!(
        l.contains("= 50 ") && l.ends_with(&format!("({cfg_s}:2)")),
        "{l}"
    );
    let l = line("signals.suggestion_threshold");
    assert!(
        l.contains("= 1.0 ") && l.ends_with(&format!("({cfg_s}:5)")),
        "{l}"
    );
    let l = line("capture.max_containers");
    assert!(l.contains("= 5 ") && l.ends_with("(default)"), "{l}");
    let l = line("store.path");
    assert!(
        l.contains("\"/tmp/x.duckdb\"") && l.ends_with("(--db)"),
        "{l}"
    );

    let out = wsprof(&["config", "show", "--json", "--config", cfg_s], d);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["file"], cfg_s);
    assert_eq!(j["settings"]["lifecycle.snapshots_to_stable"]["value"], 50);
    assert_eq!(
        j["settings"]["lifecycle.duration_to_stable"]["source"],
        "default"
    );

    // the twins apply the file's suggestion threshold
    let store = d.join("s.duckdb");
    let st = store.to_str().unwrap();
    let out = wsprof(&["demo", "--speed", "max", "--headless", "--db", st], d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let suggested = |extra: &[&str]| {
        let mut args = vec!["signals", "--json", "--db", st];
        args.extend_from_slice(extra);
        let out = wsprof(&args, d);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["suggestion"].is_null())
            .count()
    };
    let default = suggested(&[]);
    let strict = suggested(&["--config", cfg_s]);
    assert!(
        strict < default,
        "100% suggests less: {strict} vs {default}"
    );

    // bad files: one line `FILE:LINE:COL: message`, exit 1, nothing run
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[capture]\nmax_containers = 0\n").unwrap();
    let bad_s = bad.to_str().unwrap();
    let e = one_line_error(&wsprof(&["config", "show", "--config", bad_s], d));
    assert_eq!(
        e.trim_end(),
        format!("wsprof: {bad_s}:2:18: capture.max_containers: must be at least 1 (got 0)")
    );
    std::fs::write(&bad, "[store]\nretention = 30\n").unwrap();
    let e = one_line_error(&wsprof(&["signals", "--config", bad_s, "--db", st], d));
    assert!(
        e.contains(&format!("{bad_s}:2:1: unknown key `retention`")),
        "{e}"
    );
    let e = one_line_error(&wsprof(
        &[
            "config",
            "show",
            "--config",
            d.join("none.toml").to_str().unwrap(),
        ],
        d,
    ));
    assert!(e.contains("none.toml: no such file"), "{e}");
}
