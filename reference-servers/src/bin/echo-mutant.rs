//! `echo-mutant`: run one deliberately broken echo server, or list them all.

use clap::Parser;
use echo_servers::{exit, mutants, program};

fn main() {
    let flags = mutants::Flags::parse();
    let code = match mutants::run(&flags) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("{}: {err:#}", program());
            exit::code_of(&err)
        }
    };
    std::process::exit(code);
}
