//! Every screen rendered with ratatui's TestBackend over a real (in-memory) DuckDB store,
//! compared with insta snapshots; and the actions a person takes between them.

use model::event::{Access, ContainerRef, Event, EventKind, ProcessInfo};
use model::profile::LifecycleSettings;
use model::signal::{NewSignal, SignalKind};
use model::snapshot::Snapshot;
use model::tree::ActivityTree;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use store::Store;
use wsprof_tui::action::Action;
use wsprof_tui::app::{App, Banner, Screen};
use wsprof_tui::keymap::Keymap;

const T0: i64 = 1_795_651_200_000; // 2026-11-26 00:00 UTC

fn container(i: usize, image: &str, version: &str) -> ContainerRef {
    ContainerRef {
        id: format!("{:012x}{}", i + 0xabc, "0".repeat(52)),
        image: image.into(),
        version: version.into(),
        ..Default::default()
    }
}

fn ev(c: &ContainerRef, lineage: &[&str], args: &[&str], kind: EventKind, ts: i64) -> Event {
    let (last, anc) = lineage.split_last().unwrap();
    Event {
        ts_ms: ts,
        container: c.clone(),
        process: ProcessInfo {
            pid: 42,
            exec_path: last.to_string(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ancestors: anc.iter().rev().map(|s| s.to_string()).collect(),
            ..Default::default()
        },
        kind,
    }
}

fn nginx_snapshot(i: usize) -> Snapshot {
    let c = container(i % 3, "nginx", "1.25.3");
    let ts = T0 + i as i64 * 1_800_000;
    let nginx = ["/usr/sbin/nginx"];
    let worker = ["/usr/sbin/nginx", "/usr/sbin/nginx-worker"];
    let sh = ["/usr/sbin/nginx", "/bin/sh"];
    let mut t = ActivityTree::default();
    let open = |p: &str, a| EventKind::Open {
        path: p.into(),
        access: a,
        errno: 0,
        requested: None,
    };
    t.record(&ev(
        &c,
        &nginx,
        &["nginx", "-g", "daemon off;"],
        EventKind::Exec,
        ts,
    ));
    t.record(&ev(
        &c,
        &nginx,
        &[],
        open("/etc/nginx/nginx.conf", Access::READ),
        ts,
    ));
    t.record(&ev(
        &c,
        &worker,
        &["nginx: worker"],
        open("/var/log/nginx/access.log", Access::WRITE),
        ts,
    ));
    t.record(&ev(
        &c,
        &worker,
        &[],
        EventKind::Bind {
            family: "tcp".into(),
            addr: "0.0.0.0".into(),
            port: 80,
        },
        ts,
    ));
    if i % 4 != 3 {
        t.record(&ev(
            &c,
            &sh,
            &["sh", "-c", "curl -fs localhost/healthz"],
            EventKind::Exec,
            ts,
        ));
        t.record(&ev(
            &c,
            &["/usr/sbin/nginx", "/bin/sh", "/usr/bin/curl"],
            &["curl", "-fs", "localhost/healthz"],
            EventKind::Connect {
                family: "tcp".into(),
                addr: "127.0.0.1".into(),
                port: 80,
            },
            ts,
        ));
    }
    if i.is_multiple_of(10) {
        t.record(&ev(
            &c,
            &worker,
            &[],
            EventKind::Dns {
                name: "ocsp.example.org".into(),
                qtype: "A".into(),
            },
            ts,
        ));
    }
    Snapshot {
        id: format!("snap-nginx-{i:03}"),
        container: c,
        host: "node-1".into(),
        started_ms: ts - 1_800_000,
        ended_ms: ts,
        tree: t,
    }
}

fn redis_snapshot(i: usize, version: &str) -> Snapshot {
    let c = container(10 + i % 2, "redis", version);
    let ts = T0 + i as i64 * 1_800_000;
    let mut t = ActivityTree::default();
    t.record(&ev(
        &c,
        &["/usr/local/bin/redis-server"],
        &["redis-server", "--requirepass=hunter2"],
        EventKind::Open {
            path: "/data/dump.rdb".into(),
            access: Access::WRITE.union(Access::CREATE),
            errno: 0,
            requested: None,
        },
        ts,
    ));
    Snapshot {
        id: format!("snap-redis-{version}-{i:03}"),
        container: c,
        host: "node-2".into(),
        started_ms: ts - 1_800_000,
        ended_ms: ts,
        tree: t,
    }
}

/// A store with three profiles (one Stable) and three signals: a common one with a
/// suggestion, a rare one without, and an anomaly.
fn fixture() -> Store {
    let mut s = Store::open_in_memory().unwrap();
    let settings = LifecycleSettings {
        stable_after_snapshots: 20,
        stable_after_ms: i64::MAX,
    };
    let mut snaps: Vec<Snapshot> = (0..24).map(nginx_snapshot).collect();
    snaps.extend((0..5).map(|i| redis_snapshot(i, "7.0.15")));
    snaps.extend((0..2).map(|i| redis_snapshot(i, "7.2.4")));
    s.ingest_snapshots(&snaps, &settings).unwrap();
    let c = container(1, "nginx", "1.25.3");
    let shell = ev(
        &c,
        &["/usr/sbin/nginx", "/bin/sh"],
        &["sh", "-c", "curl -fs localhost/healthz"],
        EventKind::Exec,
        T0 + 50_000_000,
    );
    s.add_signal(
        &NewSignal::from_event(
            &shell,
            SignalKind::Rule,
            "shell-spawned-by-web-server",
            "high",
            "T1059.004",
            "A shell was started by a web server".into(),
        ),
        T0,
    )
    .unwrap();
    let bash = ev(
        &c,
        &["/usr/sbin/nginx", "/bin/bash"],
        &["bash", "-i"],
        EventKind::Exec,
        T0 + 51_000_000,
    );
    s.add_signal(
        &NewSignal::from_event(
            &bash,
            SignalKind::Rule,
            "shell-spawned-by-web-server",
            "high",
            "T1059.004",
            "A shell was started by a web server".into(),
        ),
        T0,
    )
    .unwrap();
    let profile = s.profile("nginx", "1.25.3").unwrap().unwrap();
    let reason = model::signal::anomaly(&bash, &profile).unwrap();
    s.add_signal(
        &NewSignal::from_event(
            &bash,
            SignalKind::Anomaly,
            "profile-anomaly",
            "medium",
            "",
            reason,
        ),
        T0,
    )
    .unwrap();
    s
}

struct Harness {
    store: Store,
    app: App,
    term: Terminal<TestBackend>,
}

impl Harness {
    fn new() -> Harness {
        Harness::on(fixture())
    }

    fn on(mut store: Store) -> Harness {
        let mut app = App::new(Keymap::builtin());
        app.user = "alice".into();
        app.now_ms = T0 + 60_000_000;
        app.banner = Banner {
            mode: "DEMO x1000".into(),
            clock: "sim 2026-11-26 14:00".into(),
            progress: "replayed 31/31".into(),
        };
        app.refresh(&mut store).unwrap();
        Harness {
            store,
            app,
            term: Terminal::new(TestBackend::new(110, 32)).unwrap(),
        }
    }

    fn act(&mut self, actions: &[Action]) {
        for a in actions {
            self.app.apply(*a, &mut self.store);
        }
    }

    fn screen(&mut self) -> String {
        self.term
            .draw(|f| wsprof_tui::view::draw(f, &self.app))
            .unwrap();
        let buf = self.term.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[test]
fn images_screen() {
    let mut h = Harness::new();
    let s = h.screen();
    assert!(
        s.contains("nginx") && s.contains("stable") && s.contains("learning"),
        "{s}"
    );
    insta::assert_snapshot!("images", s);
}

#[test]
fn profile_screen_tree_side_panel_and_snapshots() {
    let mut h = Harness::new();
    h.act(&[Action::Open]);
    assert_eq!(h.app.screen, Screen::Profile);
    h.act(&[Action::Down]);
    let s = h.screen();
    assert!(s.contains("of 20 snapshots"), "{s}");
    insta::assert_snapshot!("profile", s);
    // collapse the root: only it remains
    h.act(&[Action::Top, Action::Toggle]);
    assert_eq!(h.app.profile.as_ref().unwrap().tree.rows().len(), 1);
}

#[test]
fn profile_search_expands_ancestors_of_matches() {
    let mut h = Harness::new();
    h.act(&[Action::Open, Action::CollapseAll, Action::Search]);
    for c in "ocsp".chars() {
        h.app.search_input(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(c),
        ));
    }
    let s = h.screen();
    assert!(
        s.contains("nginx-worker") && !s.contains("/usr/bin/curl"),
        "{s}"
    );
    insta::assert_snapshot!("profile_search", s);
}

#[test]
fn signal_queue_with_suggestion_and_preview() {
    let mut h = Harness::new();
    h.act(&[Action::Signals]);
    // newest first: the anomaly, the rare shell, the common shell
    let first = h.app.selected_signal().unwrap();
    assert_eq!(first.rule_id, "profile-anomaly");
    h.act(&[Action::Down, Action::Down]);
    h.app.refresh(&mut h.store).unwrap();
    let sel = h.app.selected_signal().unwrap();
    assert!(
        sel.suggestion.is_some(),
        "the healthcheck shell is known behaviour"
    );
    let s = h.screen();
    assert!(s.contains("known behaviour: 15 of 20 snapshots"), "{s}");
    assert!(s.contains("hides now: 1 signal (1 match)"), "{s}");
    insta::assert_snapshot!("signals", s);
}

#[test]
fn accept_suppresses_and_undo_reopens() {
    let mut h = Harness::new();
    h.act(&[Action::Signals, Action::Down]);
    // the rare shell has no suggestion: accept refuses
    h.act(&[Action::Accept]);
    assert!(h.app.message.contains("no suggestion"), "{}", h.app.message);
    h.act(&[Action::Down, Action::Accept]);
    assert!(
        h.app.message.starts_with("suppression 1 added"),
        "{}",
        h.app.message
    );
    let s = h.store.signals(&store::SignalFilter::default()).unwrap();
    assert_eq!(s.iter().filter(|x| x.status == "suppressed").count(), 1);
    h.act(&[Action::Suppressions]);
    let screen = h.screen();
    assert!(
        screen.contains("active") && screen.contains("alice"),
        "{screen}"
    );
    insta::assert_snapshot!("suppressions", screen);
    h.act(&[Action::Undo]);
    assert!(h.app.message.contains("undone"), "{}", h.app.message);
    assert!(h
        .store
        .signals(&store::SignalFilter::default())
        .unwrap()
        .iter()
        .all(|x| x.status == "open"));
}

#[test]
fn help_overlay_comes_from_the_keymap() {
    let mut h = Harness::new();
    h.act(&[Action::Help]);
    let s = h.screen();
    for b in h.app.keymap.help_lines() {
        if h.app
            .keymap
            .help_lines()
            .iter()
            .position(|x| x == &b)
            .unwrap()
            < 20
        {
            assert!(s.contains(&b.1), "help lacks {:?}\n{s}", b);
        }
    }
    insta::assert_snapshot!("help", s);
}

#[test]
fn filters_and_view_profile_from_signal() {
    let mut h = Harness::new();
    h.act(&[Action::Signals, Action::FilterRule]);
    assert_eq!(h.app.visible_signals().len(), 1);
    h.act(&[Action::ClearFilters, Action::FilterStatus]);
    assert_eq!(h.app.filter.status.as_deref(), Some("open"));
    h.act(&[Action::Top, Action::ViewProfile]);
    assert_eq!(h.app.screen, Screen::Profile);
    assert_eq!(h.app.profile.as_ref().unwrap().summary.image, "nginx");
    h.act(&[Action::Back]);
    assert_eq!(h.app.screen, Screen::Signals);
    // Enter on a signal opens the profile too; the anomaly's /bin/bash is not in the
    // profile, so the nearest process that is (its parent) is selected
    assert_eq!(h.app.selected_signal().unwrap().rule_id, "profile-anomaly");
    h.act(&[Action::Open]);
    assert_eq!(h.app.screen, Screen::Profile);
    let sel = &h
        .app
        .profile
        .as_ref()
        .unwrap()
        .tree
        .selected()
        .unwrap()
        .label;
    assert_eq!(sel, "/usr/sbin/nginx");
}

#[test]
fn drift_signal_line_shows_its_size_and_the_panel_its_novel_tree() {
    let mut h = Harness::new();
    let c = container(2, "nginx", "1.25.3");
    let mut det = store::detect::Detector::new(
        model::rule::RuleSet::parse("", model::rule::RuleFormat::Toml, "test").unwrap(),
    );
    let bash = ["/usr/sbin/nginx", "/bin/bash"];
    let t = T0 + 55_000_000;
    let open = |p: &str, a| EventKind::Open {
        path: p.into(),
        access: a,
        errno: 0,
        requested: None,
    };
    let events = [
        ev(&c, &bash, &["bash"], EventKind::Exec, t),
        ev(&c, &bash, &[], open("/etc/passwd", Access::READ), t + 1),
        ev(&c, &bash, &[], open("/etc/shadow", Access::READ), t + 2),
        ev(
            &c,
            &bash,
            &[],
            open("/etc/cron.d/job", Access::CREATE),
            t + 3,
        ),
        ev(
            &c,
            &bash,
            &[],
            EventKind::Connect {
                family: "tcp".into(),
                addr: "203.0.113.7".into(),
                port: 443,
            },
            t + 4,
        ),
        ev(&c, &bash, &[], open("/etc/shadow", Access::READ), t + 5),
    ];
    for e in &events {
        det.on_event(&mut h.store, e, e.ts_ms).unwrap();
    }
    h.app.refresh(&mut h.store).unwrap();
    h.act(&[Action::Signals, Action::Top]);
    let sel = h.app.selected_signal().unwrap();
    assert_eq!(sel.kind, "drift", "newest first");
    assert_eq!(sel.drift.len(), 5);
    assert_eq!(sel.summary, "drift: 5 novel nodes (1 exec, 3 file, 1 net)");
    let s = h.screen();
    assert!(s.contains("drift: 5 nodes"), "{s}");
    assert!(s.contains("Novel activity (5 nodes)"), "{s}");
    assert!(s.contains("/etc/shadow (read)  high ×2 TA0006"), "{s}");
    insta::assert_snapshot!("signals_drift", s);
    // the drift beside the profile: its novel nodes in the profile's tree, at 0%, marked
    h.act(&[Action::ViewProfile]);
    assert_eq!(h.app.screen, Screen::Profile);
    let s = h.screen();
    assert!(
        s.contains("/bin/bash  NEW high"),
        "the novel exec in the tree: {s}"
    );
    assert!(s.contains("0% /bin/bash"), "never seen: 0%: {s}");
    assert!(
        s.contains("/usr/sbin/nginx"),
        "beside the known process it grew from: {s}"
    );
    let sel = h.app.profile.as_ref().unwrap().tree.selected().unwrap();
    assert!(
        sel.label.contains("NEW"),
        "the first novel node is selected"
    );
}

/// Kubernetes tags and image digests on the screens: a retagged image is marked on the
/// images screen and the profile header, the snapshots list names pod and namespace, the
/// signal panel lists the container's tags, and `/` finds signals by tag.
#[test]
fn tags_and_retagged_images_on_the_screens() {
    let mut store = Store::open_in_memory().unwrap();
    let settings = LifecycleSettings {
        stable_after_snapshots: 20,
        stable_after_ms: i64::MAX,
    };
    let snaps: Vec<Snapshot> = (0..2)
        .map(|i| {
            let mut s = redis_snapshot(i, "7.0.15");
            s.container.tags = vec![
                "namespace:payments".into(),
                format!("pod:cache-{i}"),
                "host:node-2".into(),
            ];
            s.container.digest = format!("sha256:{i}{i}{i}");
            s
        })
        .collect();
    store.ingest_snapshots(&snaps, &settings).unwrap();
    let mut c = container(10, "redis", "7.0.15");
    c.tags = vec!["namespace:payments".into(), "pod:cache-0".into()];
    let e = ev(
        &c,
        &["/usr/local/bin/redis-server", "/bin/sh"],
        &["sh"],
        EventKind::Exec,
        T0,
    );
    store
        .add_signal(
            &NewSignal::from_event(&e, SignalKind::Rule, "shell", "high", "", "x".into()),
            T0,
        )
        .unwrap();
    let mut h = Harness::on(store);
    let s = h.screen();
    assert!(s.contains("7.0.15!"), "retagged version marked: {s}");
    h.act(&[Action::Open]);
    let s = h.screen();
    assert!(s.contains("RETAGGED: 2 image digests"), "{s}");
    assert!(
        s.contains("payments/cache-1"),
        "namespace/pod in the snapshots: {s}"
    );
    h.act(&[Action::Signals]);
    let s = h.screen();
    assert!(
        s.contains("tags") && s.contains("namespace:payments pod:cache-0"),
        "{s}"
    );
    h.act(&[Action::Search]);
    for ch in "pod:cache-0".chars() {
        h.app.search_input(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(ch),
        ));
    }
    assert_eq!(h.app.visible_signals().len(), 1);
    let mut h2 = h;
    h2.act(&[Action::Back]);
    h2.act(&[Action::Search]);
    for ch in "namespace:shop".chars() {
        h2.app.search_input(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(ch),
        ));
    }
    assert_eq!(
        h2.app.visible_signals().len(),
        0,
        "no signal of namespace shop"
    );
}

/// nginx 1.27.0: the worker also connects to a public address on 443, and the master no
/// longer runs the healthcheck shell.
fn nginx_127_snapshot(i: usize) -> Snapshot {
    let mut s = nginx_snapshot(i);
    let c = container(20 + i % 2, "nginx", "1.27.0");
    s.id = format!("snap-nginx127-{i:03}");
    s.container = c.clone();
    s.tree.roots[0].children.retain(|p| p.path != "/bin/sh");
    s.tree.record(&ev(
        &c,
        &["/usr/sbin/nginx", "/usr/sbin/nginx-worker"],
        &[],
        EventKind::Connect {
            family: "tcp".into(),
            addr: "93.184.216.34".into(),
            port: 443,
        },
        s.ended_ms,
    ));
    s
}

#[test]
fn diff_screen_compares_with_the_previous_version() {
    let mut store = fixture();
    // one version only: nothing to compare with
    let mut h = Harness::on(Store::open_in_memory().unwrap());
    h.store
        .ingest_snapshots(&[nginx_snapshot(0)], &LifecycleSettings::default())
        .unwrap();
    h.app.refresh(&mut h.store).unwrap();
    h.act(&[Action::Diff]);
    assert_eq!(h.app.screen, Screen::Images);
    assert!(
        h.app.message.contains("nginx has one version"),
        "{}",
        h.app.message
    );

    let snaps: Vec<Snapshot> = (0..6).map(nginx_127_snapshot).collect();
    store
        .ingest_snapshots(&snaps, &LifecycleSettings::default())
        .unwrap();
    let mut h = Harness::on(store);
    // images: nginx 1.25.3, nginx 1.27.0, redis ...; select 1.27.0
    h.act(&[Action::Down]);
    assert_eq!(h.app.selected_image().unwrap().version, "1.27.0");
    h.act(&[Action::Diff]);
    assert_eq!(h.app.screen, Screen::Diff, "{}", h.app.message);
    let d = &h.app.diff.as_ref().unwrap().diff;
    assert_eq!(
        (d.from.version.as_str(), d.to.version.as_str()),
        ("1.25.3", "1.27.0")
    );
    assert_eq!(
        (d.added, d.removed),
        (1, 3),
        "the connection; sh, curl and its connection"
    );
    let s = h.screen();
    assert!(s.contains("diff nginx:1.25.3 → 1.27.0"), "{s}");
    assert!(s.contains("+1 added   -3 removed"), "{s}");
    assert!(
        s.contains("+ added      - → 100%     [net] connect tcp/443 public"),
        "{s}"
    );
    assert!(s.contains("- removed  75% →    -   /bin/sh"), "{s}");
    insta::assert_snapshot!("diff", s);
    // the side panel follows the selection
    h.act(&[Action::Bottom]);
    let sel = h.app.selected_diff_node().unwrap();
    assert_eq!(sel.label, "connect tcp/443 public");
    let s = h.screen();
    assert!(s.contains("not in this profile"), "{s}");
    assert!(s.contains("6 of 6 snapshots"), "{s}");
    // only one other version: nothing else to cycle to
    h.act(&[Action::Diff]);
    assert!(
        h.app.message.contains("no other version"),
        "{}",
        h.app.message
    );
    // Enter opens the profile that holds the node, at its process
    h.act(&[Action::Open]);
    assert_eq!(h.app.screen, Screen::Profile);
    let pv = h.app.profile.as_ref().unwrap();
    assert_eq!(pv.summary.version, "1.27.0");
    assert_eq!(pv.tree.selected().unwrap().label, "/usr/sbin/nginx-worker");
    h.act(&[Action::Back, Action::Back]);
    assert_eq!(h.app.screen, Screen::Images);
    // two versions with the same behaviour: no differences
    h.act(&[Action::Bottom, Action::Diff]);
    assert_eq!(h.app.screen, Screen::Diff);
    assert!(h.app.diff.as_ref().unwrap().diff.is_empty());
    assert!(h.screen().contains("No differences"));
}

#[test]
fn outliers_screen_ranks_the_container_that_did_something_rare_first() {
    let mut store = fixture();
    // after the profile became Stable, replica 2 starts bash, which reads /etc/shadow
    let mut late = nginx_snapshot(30);
    let c = container(2, "nginx", "1.25.3");
    late.container = c.clone();
    late.id = "snap-nginx-late".into();
    late.tree.record(&ev(
        &c,
        &["/usr/sbin/nginx", "/bin/bash"],
        &["bash", "-i"],
        EventKind::Open {
            path: "/etc/shadow".into(),
            access: Access::READ,
            errno: 0,
            requested: None,
        },
        late.ended_ms,
    ));
    store
        .ingest_snapshots(
            &[late],
            &LifecycleSettings {
                stable_after_snapshots: 20,
                stable_after_ms: i64::MAX,
            },
        )
        .unwrap();
    let mut h = Harness::on(store);
    h.act(&[Action::Open, Action::Outliers]);
    assert_eq!(h.app.screen, Screen::Outliers, "{}", h.app.message);
    let top = h.app.selected_outlier().unwrap();
    assert_eq!(top.container_id, c.id);
    assert_eq!(top.novel_nodes, 2);
    let s = h.screen();
    assert!(s.contains("nginx:1.25.3 outliers"), "{s}");
    assert!(s.contains("nginx > bash: file /etc/shadow"), "{s}");
    assert!(s.contains("new, only this container"), "{s}");
    insta::assert_snapshot!("outliers", s);
    // the next one has nothing that sets it apart
    h.act(&[Action::Down]);
    let s = h.screen();
    assert!(s.contains("nothing rare that sets it apart"), "{s}");
    // `/` keeps the containers whose text holds the query
    h.act(&[Action::Search]);
    for ch in "shadow".chars() {
        h.app.search_input(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(ch),
        ));
    }
    assert_eq!(h.app.visible_outliers().len(), 1);
    h.act(&[Action::Back, Action::Back]);
    assert_eq!(h.app.screen, Screen::Profile, "back to the profile");
}

fn response(
    at: i64,
    action: store::ResponseAction,
    container: usize,
    signal: Option<i64>,
    error: &str,
) -> store::ResponseRow {
    let id = container_id(container);
    store::ResponseRow {
        id: 0,
        at_ms: at,
        who: "alice (uid 1000)".into(),
        action,
        container_id: id.clone(),
        image: "nginx".into(),
        version: "1.25.3".into(),
        signal_id: signal,
        cgroup_path: if error.is_empty() {
            format!("/sys/fs/cgroup/machine.slice/libpod-{id}.scope")
        } else {
            String::new()
        },
        method: if error.is_empty() { "cgroup v2" } else { "" }.into(),
        outcome: if error.is_empty() { "ok" } else { "error" }.into(),
        error: error.into(),
        reason: "shell in a web server".into(),
    }
}

fn container_id(i: usize) -> String {
    container(i, "nginx", "1.25.3").id
}

#[test]
fn freeze_asks_first_naming_the_container_and_image() {
    let mut h = Harness::new();
    h.act(&[Action::Signals]);
    let sel = h.app.selected_signal().unwrap().clone();
    h.act(&[Action::Freeze]);
    let c = h.app.confirm.as_ref().expect("a question, not a freeze");
    assert_eq!(c.target.container_id, sel.container_id);
    let s = h.screen();
    assert!(
        s.contains(&format!(
            "Freeze container {} of image nginx:1.25.3?",
            &sel.container_id[..12]
        )) && s.contains(&sel.container_id)
            && s.contains(&format!("#{} profile-anomaly (medium)", sel.id))
            && s.contains("y  freeze")
            && s.contains("<Esc>  cancel"),
        "{s}"
    );
    insta::assert_snapshot!("freeze_dialog", s);
    // other keys leave the question open; back cancels; nothing was done or recorded
    h.act(&[Action::Down]);
    assert!(h.app.confirm.is_some());
    assert!(
        h.app.message.starts_with("answer first"),
        "{}",
        h.app.message
    );
    assert_eq!(
        h.app.selected_signal().unwrap().id,
        sel.id,
        "the key went nowhere"
    );
    h.act(&[Action::Back]);
    assert!(h.app.confirm.is_none());
    assert!(
        h.app.message.contains("freeze cancelled"),
        "{}",
        h.app.message
    );
    assert_eq!(h.app.screen, Screen::Signals);
    assert!(h.store.responses(10).unwrap().is_empty());
    // confirm with nothing asked does nothing
    h.act(&[Action::Confirm]);
    assert!(h.store.responses(10).unwrap().is_empty());
}

#[test]
fn a_host_process_signal_cannot_be_frozen() {
    let mut store = fixture();
    let host = ContainerRef {
        id: "host:/system.slice/cron.service".into(),
        image: "cron.service".into(),
        version: "9f3a".into(),
        ..Default::default()
    };
    let e = ev(
        &host,
        &["/usr/sbin/cron", "/bin/sh"],
        &["sh"],
        EventKind::Exec,
        T0 + 59_000_000,
    );
    store
        .add_signal(
            &NewSignal::from_event(
                &e,
                SignalKind::Rule,
                "shell-from-cron",
                "low",
                "",
                "a shell".into(),
            ),
            T0,
        )
        .unwrap();
    let mut h = Harness::on(store);
    h.act(&[Action::Signals]);
    assert_eq!(h.app.selected_signal().unwrap().image, "cron.service");
    h.act(&[Action::Freeze]);
    assert!(h.app.confirm.is_none());
    assert!(
        h.app
            .message
            .contains("is from a host process (cron.service)"),
        "{}",
        h.app.message
    );
}

#[test]
fn responses_screen_lists_the_audit_table_and_thaw_asks_first() {
    use store::ResponseAction::{Freeze, Thaw};
    let store = fixture();
    store
        .record_response(&response(T0 + 100_000, Freeze, 1, Some(3), ""))
        .unwrap();
    store
        .record_response(&response(T0 + 200_000, Thaw, 1, Some(3), ""))
        .unwrap();
    store
        .record_response(&response(
            T0 + 300_000,
            Freeze,
            2,
            Some(2),
            "container 000000000abe: not running here: no cgroup under /sys/fs/cgroup/unified names it",
        ))
        .unwrap();
    let mut h = Harness::on(store);
    h.act(&[Action::Responses]);
    assert_eq!(h.app.screen, Screen::Responses);
    let s = h.screen();
    assert!(
        s.contains("4 Responses (3)")
            && s.contains("Responses (3 in all, 1 failed)")
            && s.contains("alice (uid 1000)")
            && s.contains("not running here"),
        "{s}"
    );
    insta::assert_snapshot!("responses", s);
    // newest first: the failed freeze; thaw its container (named by the row) asks first
    assert_eq!(h.app.selected_response().unwrap().id, 3);
    h.act(&[Action::Down, Action::Thaw]);
    let c = h.app.confirm.as_ref().expect("a question");
    assert_eq!(c.target.container_id, container_id(1));
    let s = h.screen();
    assert!(
        s.contains(&format!(
            "Thaw container {} of image nginx:1.25.3?",
            &container_id(1)[..12]
        )),
        "{s}"
    );
    h.act(&[Action::Back]);
    assert!(h.app.confirm.is_none());
    // search finds rows by who, outcome or error
    h.act(&[Action::Search]);
    for ch in "error".chars() {
        h.app.search_input(&crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::Char(ch),
        ));
    }
    assert_eq!(h.app.visible_responses().len(), 1);
}

fn type_into_prompt(h: &mut Harness, text: &str) {
    for c in text.chars() {
        let k = crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char(c));
        assert!(h.app.prompt_input(&k, &mut h.store));
    }
}

fn press(h: &mut Harness, code: crossterm::event::KeyCode) {
    let k = crossterm::event::KeyEvent::from(code);
    h.app.prompt_input(&k, &mut h.store);
}

/// The profile screen's signals panel (Tab, Tab), the open-signal counts on the tree, and
/// Enter on a signal selecting its node.
#[test]
fn profile_signals_panel_marks_and_learning_progress() {
    let mut h = Harness::new();
    h.act(&[Action::Open]);
    let s = h.screen();
    assert!(
        s.contains("/usr/sbin/nginx  ⚑2"),
        "the shell signals under nginx (bash is not in the profile): {s}"
    );
    assert!(s.contains("/bin/sh  ⚑1"), "{s}");
    assert!(
        s.contains("Learning: new nodes, last") && s.contains("kernel") && s.contains("never"),
        "{s}"
    );
    let pv = h.app.profile.as_ref().unwrap();
    let progress = pv.progress.as_ref().unwrap();
    assert_eq!(progress.merged_snapshots, 20);
    assert_eq!(progress.nodes, pv.summary.nodes);
    h.act(&[Action::FocusNext, Action::FocusNext]);
    let s = h.screen();
    assert!(s.contains("Signals (3 open of 3)"), "{s}");
    assert!(s.contains("profile-anomaly"), "{s}");
    insta::assert_snapshot!("profile_signals", s);
    // the oldest signal is the common shell: Enter selects /bin/sh in the tree
    h.act(&[Action::Bottom, Action::Open]);
    let pv = h.app.profile.as_ref().unwrap();
    assert_eq!(pv.tree.selected().unwrap().label, "/bin/sh");
    assert_eq!(pv.focus, wsprof_tui::app::ProfileFocus::Tree);
}

/// From the profile's snapshots panel into one snapshot's own tree: what it brought first
/// is marked, commonality is the profile's.
#[test]
fn snapshot_drill_down_from_the_profile() {
    let mut h = Harness::new();
    h.act(&[Action::Open, Action::FocusNext, Action::Bottom]);
    let sel = {
        let pv = h.app.profile.as_ref().unwrap();
        pv.snapshots[pv.snapshot_sel].id.clone()
    };
    assert_eq!(sel, "snap-nginx-000", "oldest last");
    h.act(&[Action::Open]);
    assert_eq!(h.app.screen, Screen::Snapshot);
    h.act(&[Action::Down]);
    let s = h.screen();
    assert!(s.contains("snapshot snap-nginx-000"), "{s}");
    assert!(s.contains("merged, #1 in ingest order"), "{s}");
    assert!(s.contains("9 first seen here"), "{s}");
    assert!(s.contains("75% /bin/sh  +new"), "{s}");
    insta::assert_snapshot!("snapshot", s);
    // a snapshot kept after Stable brought nothing
    h.act(&[Action::Back]);
    assert_eq!(h.app.screen, Screen::Profile);
    assert!(h.app.snapshot.is_none());
    h.act(&[Action::Top, Action::ViewSnapshot]);
    let s = h.screen();
    assert!(
        s.contains("snap-nginx-023") && s.contains("kept, not merged"),
        "{s}"
    );
    assert!(s.contains("0 first seen here"), "{s}");
    assert!(!s.contains("  +new"), "{s}");
}

/// From a signal in the queue to the snapshot window it happened in, its node selected and
/// marked; a signal whose window was not stored says so.
#[test]
fn signal_jumps_to_the_snapshot_window_with_its_node_selected() {
    let mut store = fixture();
    // container 1's snapshot 22 covers T0+37.8M .. T0+39.6M
    let c = container(1, "nginx", "1.25.3");
    let curl = ev(
        &c,
        &["/usr/sbin/nginx", "/bin/sh", "/usr/bin/curl"],
        &["curl", "-fs", "localhost/healthz"],
        EventKind::Exec,
        T0 + 39_000_000,
    );
    store
        .add_signal(
            &NewSignal::from_event(
                &curl,
                SignalKind::Rule,
                "network-tool-in-web-server",
                "low",
                "T1105",
                "curl ran in a web server".into(),
            ),
            T0,
        )
        .unwrap();
    let mut h = Harness::on(store);
    h.act(&[Action::Signals, Action::Bottom]);
    let sig = h.app.selected_signal().unwrap().clone();
    assert_eq!(sig.rule_id, "network-tool-in-web-server");
    h.act(&[Action::ViewSnapshot]);
    assert_eq!(h.app.screen, Screen::Snapshot, "{}", h.app.message);
    let sv = h.app.snapshot.as_ref().unwrap();
    assert_eq!(sv.detail.snapshot.id, "snap-nginx-022");
    assert_eq!(sv.tree.selected().unwrap().label, "/usr/bin/curl");
    let s = h.screen();
    assert!(s.contains(&format!("◆ signal #{}", sig.id)), "{s}");
    assert!(s.contains("kept, not merged"), "{s}");
    insta::assert_snapshot!("snapshot_from_signal", s);
    // back to the queue; the anomaly (after every stored window) has none
    h.act(&[Action::Back]);
    assert_eq!(h.app.screen, Screen::Signals);
    h.act(&[Action::Top, Action::ViewSnapshot]);
    assert_eq!(h.app.screen, Screen::Signals);
    assert!(
        h.app
            .message
            .contains("no snapshot was stored for the window"),
        "{}",
        h.app.message
    );
}

/// Promote and reset from the keyboard: a confirmation names the profile and asks why;
/// Esc cancels; the status, the images screen and the audit trail follow; u undoes.
#[test]
fn promote_reset_and_undo_from_the_keyboard_with_confirmation() {
    use crossterm::event::KeyCode;
    let mut h = Harness::new();
    // redis 7.2.4 (Learning) is the last row
    h.act(&[Action::Bottom, Action::Promote]);
    let p = h.app.prompt.as_ref().expect("a confirmation");
    assert_eq!((p.image.as_str(), p.version.as_str()), ("redis", "7.2.4"));
    press(&mut h, KeyCode::Enter);
    assert!(
        h.app
            .prompt
            .as_ref()
            .unwrap()
            .error
            .contains("type why first"),
        "no reason, no promote"
    );
    type_into_prompt(&mut h, "cache tier, behaviour fixed");
    let s = h.screen();
    assert!(s.contains("Promote redis:7.2.4 to Stable?"), "{s}");
    insta::assert_snapshot!("promote_prompt", s);
    press(&mut h, KeyCode::Enter);
    assert!(h.app.prompt.is_none());
    assert!(
        h.app.message.contains("redis:7.2.4 promoted to Stable"),
        "{}",
        h.app.message
    );
    assert_eq!(
        h.store.profile_status("redis", "7.2.4").unwrap(),
        Some(model::ProfileStatus::Stable)
    );
    let s = h.screen();
    assert!(s.contains("stable*"), "{s}");
    assert!(
        s.contains("promoted to Stable by alice") && s.contains("cache tier, behaviour fixed"),
        "{s}"
    );
    let d = &h.store.decisions(1).unwrap()[0];
    assert_eq!(
        (d.action.as_str(), d.who.as_str(), d.profile.as_deref()),
        ("promote", "alice", Some("redis:7.2.4"))
    );
    // promote again: refused at once, no prompt
    h.act(&[Action::Promote]);
    assert!(h.app.prompt.is_none());
    assert!(
        h.app.message.contains("already Stable"),
        "{}",
        h.app.message
    );
    // u: undo, confirmed
    h.act(&[Action::Undo]);
    let s = h.screen();
    assert!(s.contains("Undo promote #1 of redis:7.2.4?"), "{s}");
    press(&mut h, KeyCode::Enter);
    assert_eq!(
        h.store.profile_status("redis", "7.2.4").unwrap(),
        Some(model::ProfileStatus::Learning)
    );
    // reset nginx (Stable) from its profile screen: Esc cancels, then confirmed
    h.act(&[Action::Top, Action::Open, Action::ResetLearning]);
    assert!(h.app.prompt.is_some());
    press(&mut h, KeyCode::Esc);
    assert!(h.app.prompt.is_none() && h.app.message == "cancelled");
    assert_eq!(
        h.store.profile_status("nginx", "1.25.3").unwrap(),
        Some(model::ProfileStatus::Stable)
    );
    h.act(&[Action::ResetLearning]);
    type_into_prompt(&mut h, "new release config");
    press(&mut h, KeyCode::Enter);
    assert!(
        h.app.message.contains("reset to Learning"),
        "{}",
        h.app.message
    );
    let pv = h.app.profile.as_ref().unwrap();
    assert_eq!(
        (pv.summary.status.as_str(), pv.summary.snapshots),
        ("learning", 0)
    );
    assert!(pv.summary.status_manual);
    assert_eq!(pv.summary.archived_snapshots, 24);
    let s = h.screen();
    assert!(s.contains("LEARNING*"), "{s}");
    assert!(s.contains("archived (reset #2)"), "{s}");
    assert!(s.contains("no snapshot merged yet"), "{s}");
    // it learns again: the first snapshot brings everything, snapshot 30 a DNS name
    let settings = LifecycleSettings {
        stable_after_snapshots: 20,
        stable_after_ms: i64::MAX,
    };
    let again: Vec<Snapshot> = (24..=31).map(nginx_snapshot).collect();
    h.store.ingest_snapshots(&again, &settings).unwrap();
    h.app.refresh(&mut h.store).unwrap();
    let pv = h.app.profile.as_ref().unwrap();
    let steps = &pv.progress.as_ref().unwrap().steps;
    assert_eq!(steps.len(), 8);
    assert_eq!(steps[0].new.total(), 8, "everything is new again");
    assert_eq!(steps[6].new.dns, 1, "snapshot 30 asks a DNS name");
    let s = h.screen();
    assert!(s.contains("dns     ······█·"), "{s}");
    assert!(s.contains("LEARNING*"), "{s}");
    insta::assert_snapshot!("profile_after_reset", s);
}

#[test]
fn a_queue_larger_than_a_page_shows_its_newest_page_and_says_so() {
    let mut store = Store::open_in_memory().unwrap();
    store.settings.rate_limit = 10_000;
    let n = wsprof_tui::app::QUEUE_PAGE + 50;
    for i in 0..n {
        // a container each: neither de-duplication nor the rate limit folds them
        let c = container(i, "web", "1.0");
        let tool = format!("/usr/bin/tool{i}");
        let e = ev(
            &c,
            &["/usr/sbin/nginx", tool.as_str()],
            &["tool"],
            EventKind::Exec,
            T0 + i as i64,
        );
        let s = NewSignal::from_event(&e, SignalKind::Rule, "r", "high", "T1059", String::new());
        store.add_signal(&s, T0 + i as i64).unwrap();
    }
    let mut h = Harness::on(store);
    h.act(&[Action::Signals]);
    assert_eq!(h.app.signals.len(), wsprof_tui::app::QUEUE_PAGE);
    // the newest first: the last one added
    assert_eq!(
        h.app.selected_signal().unwrap().process.exec_path,
        format!("/usr/bin/tool{}", n - 1)
    );
    let s = h.screen();
    assert!(
        s.contains(&format!(
            "Signal queue ({}) [newest {}]",
            wsprof_tui::app::QUEUE_PAGE,
            wsprof_tui::app::QUEUE_PAGE
        )),
        "{s}"
    );
}
