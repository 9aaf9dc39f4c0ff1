//! Builds the eBPF programs (`capture-ebpf`) for bpfel-unknown-none with aya-build
//! (`rustup run nightly cargo build -Z build-std=core`, linked by bpf-linker) into OUT_DIR.

fn main() -> anyhow::Result<()> {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let ebpf = dir.join("../capture-ebpf");
    let common = dir.join("../capture-common");
    println!("cargo:rerun-if-changed={}", common.display());
    let ebpf = ebpf.canonicalize()?;
    let root = ebpf
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "capture-ebpf",
            root_dir: root,
            ..Default::default()
        }],
        aya_build::Toolchain::default(),
    )
}
