//! Fuzz target `text`: see [`wasmetheus_fuzz::text`]. Built by `cargo xtask
//! fuzz` it is a libFuzzer binary; otherwise it replays the files named on
//! its command line.
#![cfg_attr(fuzzing, no_main)]

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmetheus_fuzz::text(data));

#[cfg(not(fuzzing))]
fn main() -> std::process::ExitCode {
    wasmetheus_fuzz::replay(wasmetheus_fuzz::text)
}
