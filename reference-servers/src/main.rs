//! `echo-server`: parse flags, run one model, map the outcome to an exit status.

use clap::Parser;
use echo_servers::{exit, flags::Flags, program};

fn main() {
    let flags = Flags::parse();
    let code = match echo_servers::run(&flags) {
        Ok(()) => exit::OK,
        Err(err) => {
            eprintln!("{}: {err:#}", program());
            exit::code_of(&err)
        }
    };
    std::process::exit(code);
}
