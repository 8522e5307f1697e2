//! Declares the `fuzzing` cfg, which `cargo xtask fuzz` sets to build the
//! targets as libFuzzer binaries.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
}
