//! `echo-ceiling`: the loopback ceilings `cargo xtask bench` measures the models against.

use clap::Parser;
use echo_servers::{ceiling, exit, program};

fn main() {
    let flags = ceiling::Flags::parse();
    let code = match ceiling::run(&flags) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("{}: {err:#}", program());
            exit::code_of(&err)
        }
    };
    std::process::exit(code);
}
