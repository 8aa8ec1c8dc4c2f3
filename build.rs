//! Compiles the XDP programs in bpf/ into libbpf-rs skeletons (`$OUT_DIR/*.skel.rs`), included
//! by src/port/xdp/prog.rs. Needs clang (scripts/deps installs it); libbpf's own headers come
//! with libbpf-cargo, the kernel's UAPI headers from the system.

use std::env;
use std::path::PathBuf;

use anyhow::Context;
use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/shoal_xdp.bpf.c";

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    // <linux/bpf.h> includes <asm/types.h>, which Debian keeps under the multiarch directory.
    let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
    SkeletonBuilder::new()
        .source(SRC)
        .clang_args([multiarch.as_str(), "-Wall"])
        .build_and_generate(out.join("shoal_xdp.skel.rs"))
        .with_context(|| format!("building {SRC} (is clang installed? run scripts/deps)"))?;
    println!("cargo:rerun-if-changed={SRC}");
    Ok(())
}
