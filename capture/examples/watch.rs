//! Print what capture sees for a while: `cargo run -p capture --example watch -- [--host] [SECS]`.
use std::time::{Duration, Instant};

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let host = args.iter().any(|a| a == "--host");
    let secs: u64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    let opts = capture::CaptureOptions {
        capture_host: host,
        emit_events: true,
        runtime_sockets: args
            .iter()
            .filter(|a| a.ends_with(".sock"))
            .map(std::path::PathBuf::from)
            .collect(),
        snapshot_interval: Duration::from_secs(secs.max(1)),
        ..Default::default()
    };
    let mut cap = match capture::Capture::start(opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if let Some(o) = cap.recv_timeout(Duration::from_millis(200)) {
            print(o);
        }
    }
    let st = cap.stop().expect("stop");
    while let Ok(o) = cap.receiver().try_recv() {
        print(o);
    }
    println!("{}", serde_json::to_string_pretty(&st).unwrap());
}

fn print(o: capture::CaptureOutput) {
    match o {
        capture::CaptureOutput::Event(e) => println!(
            "{} {} [{}] {}",
            e.container.image,
            e.process.pid,
            e.process.lineage().join(" > "),
            e.summary()
        ),
        capture::CaptureOutput::Snapshot(s) => println!(
            "SNAPSHOT {} {}:{} nodes={}",
            s.id,
            s.container.image,
            s.container.version,
            s.tree.node_count()
        ),
        capture::CaptureOutput::Stats(_) => {}
    }
}
