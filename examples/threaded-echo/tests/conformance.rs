//! The echo-conform suite as this crate's tests: one trial per case.
//! `cargo test --test conformance -- echo.stream` runs the stream cases only.

use echo_conform_harness::Suite;

fn main() {
    let server = env!("CARGO_BIN_EXE_threaded-echo");
    Suite::command(format!("{server} {{port}}"))
        .claims("stream,forever,concurrent")
        .main()
}
