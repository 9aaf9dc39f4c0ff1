//! Regenerates `demo-data/bundle.json.gz` from the fixed seed and prints its figures.
//!
//! `cargo run -p demo-data --bin gen-demo [-- OUTPUT]`

use demo_data::{generate, BundleStats, SEED};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/bundle.json.gz")));
    let bundle = generate(SEED);
    let bytes = bundle.to_gzip();
    if let Err(e) = std::fs::write(&out, &bytes) {
        eprintln!("gen-demo: cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {} ({} bytes gzip, {} bytes JSON), seed {:#x}\n",
        out.display(),
        bytes.len(),
        bundle.to_json().len(),
        SEED
    );
    print!("{}", BundleStats::of(&bundle));
    ExitCode::SUCCESS
}
