//! Exit codes: a contract with CI pipelines, documented in `--help` and the README.
//!
//! Precedence, when several apply: 2 usage > 4 environment > 3 server > 5 regression > 1 case failed
//! > 0. Usage and environment problems stop a run before it starts; `gate::exit_code` orders the rest.

/// Every claimed MUST case passed (and every SHOULD under `--strict`).
pub const OK: i32 = 0;
/// A claimed MUST case failed (or a SHOULD case under `--strict`).
pub const CASE_FAILED: i32 = 1;
/// Bad usage or an invalid spec.
pub const USAGE: i32 = 2;
/// The server did not start, did not become ready, or crashed.
pub const SERVER: i32 = 3;
/// The environment cannot run a required case (for example `--require-root` without root).
pub const ENVIRONMENT: i32 = 4;
/// A case that passed in the baseline now fails.
pub const REGRESSION: i32 = 5;

/// The table printed at the end of `--help`.
pub const HELP: &str = "\
Exit codes (when several apply, the first in this order wins: 2, 4, 3, 5, 1, 0):
  0  every claimed MUST case passed (XFAIL and known baseline failures do not gate)
  1  a claimed MUST case failed or was FLAKY (or SHOULD, under --strict; XPASS too, under --strict)
  2  usage error or invalid spec, baseline or expect-fail file
  3  the server did not start, did not become ready, or crashed; with --addr, nothing answers there
  4  the environment cannot run a required case
  5  a regression against --baseline: a case that passed there fails or is FLAKY now
  128+N  echo-conform itself was ended by signal N (130 for Ctrl-C, 143 for SIGTERM), after
         ending every server it started
  A broken pipe on stdout (`echo-conform list | head`) ends the command quietly with 0.";
