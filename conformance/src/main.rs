//! The `echo-conform` binary: parse flags, run, map the result to an exit code.

use clap::Parser;

fn main() {
    let cli = match echo_conform::flags::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; real usage errors exit 2.
            let code = if e.use_stderr() {
                echo_conform::exit::USAGE
            } else {
                echo_conform::exit::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    // Before any thread exists (namespaces are per thread): a private network namespace for the
    // launched servers and the runner's clients, when root and launching.
    if let echo_conform::flags::Command::Run(args) = &cli.command {
        if args.cmd.is_some() {
            echo_conform::os::netns::enter_private(!args.no_netns);
        }
    }
    echo_conform::os::raise_nofile_limit();
    // Every orphan a launched server leaves (a double-forked daemon, a `setsid` helper) is
    // re-parented to the runner, so that it can be found and ended. Without it the environment
    // mark still finds them.
    if let Err(e) = echo_conform::os::procs::become_subreaper() {
        eprintln!(
            "echo-conform: note: {e}; escaped descendants are found by their environment only"
        );
    }
    std::process::exit(echo_conform::cli::run(cli.command));
}
