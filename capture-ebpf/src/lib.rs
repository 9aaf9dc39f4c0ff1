//! Host-side stub: the real programs are in `main.rs`, built for `bpfel-unknown-none`.
#![no_std]
