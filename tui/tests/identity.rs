//! Process identity from the kernel, for real: `wsprof capture` on the running kernel while
//! containers of demo/web:1.0 run programs whose names lie about what runs.
//!
//! - a copy of busybox renamed /tmp/runc, run as `cat` (in the container's script) and
//!   through `podman exec` (right after runc's own init) is recorded as /tmp/runc, not as
//!   runtime glue;
//! - busybox's own applets (re-exec through /proc/self/exe with argv[0] = `cat`) keep their
//!   names, since /bin/cat is a link to the file the kernel ran;
//! - a static helper that re-execs itself through /proc/self/exe with argv[0] = /bin/cat is
//!   recorded under its own path (on a bind-mounted volume: /h/identity);
//! - a memfd exec and an exec of a deleted file are marked fileless by the kernel and raise
//!   `exec-from-memfd` and `exec-of-deleted-binary`;
//! - a `#!` script keeps its own path, with the interpreter the kernel ran beside it;
//! - opens are known by the file the kernel opened, the caller's path kept beside it: a
//!   symlink to /etc/shadow (the image has none: the script makes one), a relative `cat group` after `cd /etc` (its process gone
//!   before user space could read its cwd), and a path buffer another thread flips between
//!   /tmp/shadow and /etc/shadow while the helper opens it (what a tracer read at syscall
//!   entry is not what the kernel opened).
//!
//! The helper (tests/probe/identity.c) is built with `cc -static` (gcc + libc6-dev:
//! scripts/setup.sh). Without root, BTF, podman or cc it prints why and skips; with CI=true
//! it fails instead.

mod common;

use common::{podman, podman_service, prerequisites_or_skip, run_web_with};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn store_json(args: &[&str], db: &Path, log: &Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(args)
        .arg("--db")
        .arg(db)
        .arg("--log-file")
        .arg(log)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Build tests/probe/identity.c statically into `dir`; None (and why) without a compiler.
fn build_helper(dir: &Path) -> Result<(), String> {
    let src = common::repo().join("tui/tests/probe/identity.c");
    let out = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(dir.join("identity"))
        .arg(&src)
        .output()
        .map_err(|e| format!("cc is not installed ({e}; gcc and libc6-dev: scripts/setup.sh)"))?;
    if !out.status.success() {
        return Err(format!(
            "cc -static failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// The signals of `rule` on demo/web:1.0.
fn signals_of(rule: &str, db: &Path, log: &Path) -> Vec<serde_json::Value> {
    store_json(&["signals", "--json", "--rule", rule], db, log)
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["image"] == "demo/web" && s["version"] == "1.0")
        .cloned()
        .collect()
}

#[test]
fn exec_paths_name_the_file_the_kernel_ran() {
    if !prerequisites_or_skip("exec_paths_name_the_file_the_kernel_ran") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let helper_dir = tmp.path().join("h");
    std::fs::create_dir(&helper_dir).unwrap();
    if let Err(why) = build_helper(&helper_dir) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why}");
        }
        eprintln!("SKIP exec_paths_name_the_file_the_kernel_ran: {why}");
        return;
    }
    let sock = tmp.path().join("podman.sock");
    let db = tmp.path().join("identity.duckdb");
    let log = tmp.path().join("wsprof.log");
    let names = [
        "wsprof-ident-runc",
        "wsprof-ident-self",
        "wsprof-ident-memfd",
        "wsprof-ident-paths",
    ];
    let _guard = podman_service(&sock, &names);
    let capture = Command::new(env!("CARGO_BIN_EXE_wsprof"))
        .args(["capture", "--snapshot-interval", "4s", "--duration", "22s"])
        // other tests' containers on the host must not take this test's profiling slots
        .args(["--max-containers", "64"])
        .arg("--runtime-socket")
        .arg(&sock)
        .arg("--db")
        .arg(&db)
        .arg("--log-file")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsprof capture");
    std::thread::sleep(Duration::from_secs(3));

    let volume = format!("{}:/h:ro", helper_dir.display());
    // busybox picks its applet from argv[0]: the helper runs the copy as `cat`
    run_web_with(
        names[0],
        &["-v", &volume],
        "cp /bin/busybox /tmp/runc; sleep 1; cat /etc/passwd > /dev/null; \
         /h/identity run cat /tmp/runc /etc/passwd > /dev/null; sleep 10",
    );
    run_web_with(
        names[1],
        &["-v", &volume],
        "sleep 1; /h/identity selfexec /bin/cat; sleep 8",
    );
    run_web_with(
        names[2],
        &["-v", &volume],
        "sleep 1; /h/identity memfd > /dev/null; /h/identity deleted /tmp/gone > /dev/null; \
         printf '#!/bin/sh\\ncat /etc/hostname\\n' > /tmp/job.sh; chmod +x /tmp/job.sh; \
         /tmp/job.sh > /dev/null; sleep 8",
    );
    run_web_with(
        names[3],
        &["-v", &volume],
        "sleep 1; cp /etc/passwd /etc/shadow; ln -s /etc/shadow /tmp/s; cat /tmp/s > /dev/null; \
         cd /etc && cat group > /dev/null; cd /; echo decoy > /tmp/shadow; \
         /h/identity race /tmp/shadow /etc/shadow > /dev/null; sleep 8",
    );
    std::thread::sleep(Duration::from_secs(4));
    // `podman exec` runs the renamed busybox right after runc's own init re-exec (busybox
    // then says "runc: applet not found": the exec is what counts).
    let exec = podman()
        .args(["exec", names[0], "/tmp/runc"])
        .output()
        .expect("podman exec");
    assert!(
        String::from_utf8_lossy(&exec.stderr).contains("applet not found"),
        "podman exec of /tmp/runc did not run busybox: {}",
        String::from_utf8_lossy(&exec.stderr)
    );

    let out = capture.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "wsprof capture failed: {}{}\nlog:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let shown = store_json(&["profile", "show", "demo/web:1.0", "--json"], &db, &log);
    let keys: Vec<&str> = shown["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["key"].as_str())
        .collect();
    let has = |k: &str| keys.contains(&k);

    // (a) the renamed busybox is workload under its own name, in the script and in a session
    assert!(
        has("p:/bin/sh|p:/h/identity|p:/tmp/runc|f:/etc/passwd"),
        "{keys:#?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("p:[exec session]|p:/tmp/runc")),
        "podman exec of /tmp/runc is a session running /tmp/runc: {keys:#?}"
    );
    // runc's init (re-executing its own binary, fd exec) is never workload
    assert!(
        !keys.iter().any(|k| k.starts_with("p:/dev/fd/")
            || k.starts_with("p:/proc/self/")
            || k.contains("runc init")
            || k.starts_with("p:/usr/sbin/runc")
            || k.starts_with("p:/usr/bin/runc")),
        "runtime glue in the profile: {keys:#?}"
    );
    // busybox applets keep their names: /bin/cat is a link to the file the kernel ran
    assert!(has("p:/bin/sh|p:/bin/cat|f:/etc/passwd"), "{keys:#?}");
    assert!(
        !keys.iter().any(|k| k.contains("p:/bin/busybox")),
        "no applet shows as busybox: {keys:#?}"
    );

    // (b) a /proc/self/exe exec with a false argv[0] is recorded under the file's own path
    // (on the bind-mounted volume), not under argv[0]
    assert!(
        has("p:/bin/sh|p:/h/identity|p:/h/identity|f:/etc/hostname"),
        "{keys:#?}"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.starts_with("p:/bin/sh|p:/h/identity|p:/bin/cat")),
        "argv[0] is not the exec path: {keys:#?}"
    );

    // (c) fileless execs, marked by the kernel
    let memfd = signals_of("exec-from-memfd", &db, &log);
    let s = memfd
        .first()
        .unwrap_or_else(|| panic!("no exec-from-memfd signal; profile: {keys:#?}"));
    assert_eq!(s["process"]["exec_path"], "/memfd:payload (deleted)", "{s}");
    assert_eq!(s["process"]["fileless"], true, "{s}");
    let deleted = signals_of("exec-of-deleted-binary", &db, &log);
    let s = deleted
        .first()
        .unwrap_or_else(|| panic!("no exec-of-deleted-binary signal; profile: {keys:#?}"));
    assert_eq!(s["process"]["exec_path"], "/tmp/gone (deleted)", "{s}");
    assert_eq!(s["process"]["fileless"], true, "{s}");
    // (d) a `#!` script: the script's path, with the interpreter the kernel ran beside it;
    // busybox applets it runs keep their names (re-exec of the interpreter, not the script)
    assert!(
        has("p:/bin/sh|p:/tmp/job.sh|p:/bin/cat|f:/etc/hostname"),
        "{keys:#?}"
    );
    let s = signals_of("exec-from-temp-dir", &db, &log)
        .into_iter()
        .find(|s| s["process"]["exec_path"] == "/tmp/job.sh")
        .unwrap_or_else(|| panic!("no exec-from-temp-dir signal for /tmp/job.sh"));
    assert_eq!(s["process"]["interpreter"], "/bin/sh", "{s}");
    assert!(s["process"].get("fileless").is_none(), "{s}");
    // (e) opens: the kernel's path of the file opened, the requested one beside it
    assert!(has("p:/bin/sh|p:/bin/cat|f:/etc/shadow"), "{keys:#?}");
    assert!(
        has("p:/bin/sh|p:/bin/cat|f:/etc/group"),
        "relative open after cd: {keys:#?}"
    );
    assert!(has("p:/bin/sh|p:/h/identity|f:/etc/shadow"), "{keys:#?}");
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("<unresolved") || k.ends_with("|f:/tmp/s")),
        "{keys:#?}"
    );
    let shadow = signals_of("shadow-file-read", &db, &log);
    let summaries: Vec<&str> = shadow
        .iter()
        .flat_map(|s| s["matches"].as_array().unwrap().iter())
        .filter_map(|m| m["summary"].as_str())
        .collect();
    for want in [
        "open /etc/shadow (read) requested as /tmp/s",
        "open /etc/shadow (read) requested as /tmp/shadow",
    ] {
        assert!(summaries.contains(&want), "{want:?} not in {summaries:#?}");
    }
    // nothing else is fileless
    for rule in ["exec-from-memfd", "exec-of-deleted-binary"] {
        for s in signals_of(rule, &db, &log) {
            let p = s["process"]["exec_path"].as_str().unwrap_or("");
            assert!(p.ends_with(" (deleted)"), "{rule} on {p}: {s}");
        }
    }
}
