//! Every error path of the parser, each checked for its file:line:column and its wording.

use crate::{parse_file, Spec};

const HEAD: &str = "[[case]]\nid = \"t.case\"\ntitle = \"t\"\nsource = \"s\"\nlevel = \"must\"\n";

/// Parses `HEAD` + `tail` and checks that the error starts with `where_` and contains `what`.
fn check(tail: &str, where_: &str, what: &str) {
    check_with(HEAD, tail, where_, what);
}

/// Parses `head` + `tail` and checks that the error starts with `where_` and contains `what`.
pub(super) fn check_with(head: &str, tail: &str, where_: &str, what: &str) {
    let text = format!("{head}{tail}");
    let err = parse_file("t.toml", &text)
        .expect_err("the input is invalid")
        .to_string();
    assert!(
        err.starts_with(where_),
        "expected location {where_:?} in {err:?}"
    );
    assert!(err.contains(what), "expected {what:?} in {err:?}");
}

#[test]
fn valid_case_parses() {
    let text = format!("{HEAD}kind = \"script\"\nsteps = [\"connect\", {{ send = {{ hex = \"00ff\" }} }}, \"expect_echo\"]\n");
    let cases = parse_file("t.toml", &text).unwrap();
    assert_eq!(cases[0].origin.line, 2);
}

#[test]
fn toml_syntax_error() {
    check("kind = \"script\nsteps = []\n", "t.toml:6:", "");
}

#[test]
fn unknown_field_in_case() {
    check(
        "kind = \"script\"\nsteps = [\"connect\"]\ncolour = 1\n",
        "t.toml:8:1",
        "unknown field `colour`",
    );
}

#[test]
fn unknown_step() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", \"explode\"]\n",
        "t.toml:7:",
        "unknown variant `explode`",
    );
}

#[test]
fn unknown_claim() {
    check(
        "requires = [\"streem\"]\nkind = \"script\"\nsteps = [\"connect\"]\n",
        "t.toml:6:",
        "unknown variant `streem`",
    );
}

#[test]
fn unknown_level() {
    let text =
        HEAD.replace("\"must\"", "\"mandatory\"") + "kind = \"script\"\nsteps = [\"connect\"]\n";
    let err = parse_file("t.toml", &text).unwrap_err().to_string();
    assert!(
        err.starts_with("t.toml:5:") && err.contains("unknown variant `mandatory`"),
        "{err}"
    );
}

#[test]
fn unknown_and_reserved_kinds() {
    check(
        "kind = \"magic\"\nsteps = [\"connect\"]\n",
        "t.toml:6:8",
        "unknown kind `magic`",
    );
    check(
        "kind = \"load\"\nsteps = [\"connect\"]\n",
        "t.toml:6:8",
        "reserved",
    );
}

#[test]
fn missing_steps() {
    check("kind = \"script\"\n", "t.toml:6:", "at least one step");
}

#[test]
fn bad_id() {
    let text = HEAD.replace("t.case", "NoDots") + "kind = \"script\"\nsteps = [\"connect\"]\n";
    let err = parse_file("t.toml", &text).unwrap_err().to_string();
    assert!(
        err.starts_with("t.toml:2:6") && err.contains("dotted lowercase"),
        "{err}"
    );
}

#[test]
fn send_needs_exactly_one_payload() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send = { text = \"a\", hex = \"00\" } }]\n",
        "t.toml:7:21",
        "exactly one of",
    );
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send = { chunk = 3 } }]\n",
        "t.toml:7:",
        "steps[1].send",
    );
}

#[test]
fn payload_and_chunk_bounds() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send = { seeded = { seed = 1, len = 999999999999 } } }]\n",
        "t.toml:7:",
        "outside 1..=",
    );
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send = { text = \"a\", chunk = 0 } }]\n",
        "t.toml:7:",
        "chunk sizes",
    );
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send = { hex = \"abc\" } }]\n",
        "t.toml:7:",
        "even-length hex",
    );
}

#[test]
fn times_are_bounded() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", { sleep = { ms = 9999999 } }]\n",
        "t.toml:7:",
        "over the limit",
    );
    check(
        "timeouts = { step_ms = 0 }\nkind = \"script\"\nsteps = [\"connect\"]\n",
        "t.toml:6:",
        "timeouts.step_ms",
    );
}

#[test]
fn repeat_is_bounded() {
    check(
        "kind = \"script\"\nsteps = [{ repeat = { times = 0, steps = [\"connect\"] } }]\n",
        "t.toml:7:",
        "times",
    );
    check(
        "kind = \"script\"\nsteps = [{ repeat = { times = 100000, steps = [{ repeat = { times = 100000, steps = [\"connect\"] } }] } }]\n",
        "t.toml:7:",
        "once repeats are expanded",
    );
}

#[test]
fn hold_and_leave_fields_are_checked() {
    check(
        "kind = \"process\"\nsteps = [{ hold = { count = 10, burst = 0 } }]\n",
        "t.toml:7:",
        "burst",
    );
    check(
        "kind = \"process\"\nsteps = [{ hold = { count = 10, burst = 11 } }]\n",
        "t.toml:7:",
        "must be within 1..=10",
    );
    check(
        "kind = \"process\"\nsteps = [{ hold = { count = 10, pause_ms = 5 } }]\n",
        "t.toml:7:",
        "needs `burst`",
    );
    check(
        "kind = \"script\"\nsteps = [\"connect\", { leave = { ms = 0 } }]\n",
        "t.toml:7:",
        "at least 1",
    );
    check(
        "kind = \"script\"\nsteps = [{ leave = { ms = 10 } }]\n",
        "t.toml:7:",
        "needs an open connection",
    );
}

#[test]
fn steps_need_a_connection() {
    check(
        "kind = \"script\"\nsteps = [\"expect_echo\"]\n",
        "t.toml:7:",
        "needs an open connection",
    );
    check(
        "kind = \"script\"\nsteps = [\"connect\", { on = \"other\" }]\n",
        "t.toml:7:",
        "names no connection",
    );
}

#[test]
fn kind_specific_steps_and_fields() {
    check(
        "kind = \"script\"\nsteps = [{ expect_exit = { status = 0 } }]\n",
        "t.toml:7:",
        "needs `kind = \"process\"`",
    );
    check(
        "kind = \"script\"\nsteps = [\"barrier\"]\n",
        "t.toml:7:",
        "only makes sense in a `concurrent`",
    );
    check(
        "kind = \"concurrent\"\nsteps = [\"connect\"]\n",
        "t.toml:6:",
        "needs `clients = N`",
    );
    check(
        "kind = \"concurrent\"\nclients = 1\nsteps = [\"connect\"]\n",
        "t.toml:7:",
        "outside 2..=",
    );
    check(
        "kind = \"script\"\nclients = 3\nsteps = [\"connect\"]\n",
        "t.toml:7:",
        "only `concurrent` cases",
    );
}

#[test]
fn duplicate_ids_name_both_places() {
    let one = format!("{HEAD}kind = \"script\"\nsteps = [\"connect\"]\n");
    let err = Spec::from_files([
        ("a.toml".to_string(), one.clone()),
        ("b.toml".to_string(), one),
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "b.toml:2: duplicate case id `t.case` (first defined at a.toml:2)"
    );
}

#[test]
fn embedded_spec_is_valid_and_every_case_has_a_source() {
    let spec = Spec::embedded().unwrap();
    assert!(spec.cases.len() >= 18, "{} cases", spec.cases.len());
    assert!(spec.cases.iter().all(|c| !c.source.is_empty()));
}

#[test]
fn privilege_steps_parse() {
    let text = format!(
        "{HEAD}kind = \"process\"\nsteps = [\"connect\", {{ expect_priv = \"uid-all-four\" }}, {{ expect_priv = \"no-regain\" }}]\n"
    );
    let cases = parse_file("t.toml", &text).unwrap();
    let steps = cases[0].kind.steps();
    assert_eq!(
        steps[1],
        crate::Step::ExpectPriv {
            check: crate::PrivCheck::UidAllFour
        }
    );
    assert!(steps[2].is_process_step() && steps[2].is_privilege_step());
    let text =
        format!("{HEAD}kind = \"process\"\nsteps = [\"expect_bind_denied\", \"expect_refused\"]\n");
    let cases = parse_file("t.toml", &text).unwrap();
    assert_eq!(cases[0].kind.steps()[0], crate::Step::ExpectBindDenied);
}

#[test]
fn every_privilege_check_round_trips() {
    for check in crate::ALL_PRIV_CHECKS {
        assert_eq!(crate::PrivCheck::from_name(check.as_str()), Some(check));
        let text = format!("{HEAD}kind = \"process\"\nsteps = [{{ expect_priv = \"{check}\" }}]\n");
        parse_file("t.toml", &text).unwrap();
    }
}

#[test]
fn unknown_privilege_check() {
    check(
        "kind = \"process\"\nsteps = [\"connect\", { expect_priv = \"uid-all-three\" }]\n",
        "t.toml:7:",
        "unknown privilege check `uid-all-three` (known: listen-bound-by-root, uid-all-four",
    );
}

#[test]
fn privilege_steps_need_a_process_case() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", { expect_priv = \"umask\" }]\n",
        "t.toml:7:",
        "`expect_priv` observes the server process and needs `kind = \"process\"`",
    );
    check(
        "kind = \"script\"\nsteps = [\"expect_bind_denied\"]\n",
        "t.toml:7:",
        "needs `kind = \"process\"`",
    );
}

#[test]
fn bind_denied_must_come_first() {
    check(
        "kind = \"process\"\nsteps = [\"expect_refused\", \"expect_bind_denied\"]\n",
        "t.toml:7:",
        "must be the case's first step",
    );
    check(
        "kind = \"process\"\nsteps = [{ repeat = { times = 2, steps = [\"expect_bind_denied\"] } }]\n",
        "t.toml:7:",
        "must be the case's first step",
    );
}

#[test]
fn embedded_privilege_cases_are_process_cases_that_require_privileged() {
    let spec = Spec::embedded().unwrap();
    let priv_cases: Vec<_> = spec
        .cases
        .iter()
        .filter(|c| c.id.starts_with("priv."))
        .collect();
    assert!(priv_cases.len() >= 11, "{}", priv_cases.len());
    for c in priv_cases {
        assert_eq!(c.kind.name(), "process", "{}", c.id);
        assert!(c.requires.contains(&crate::Claim::Privileged), "{}", c.id);
        assert!(
            c.kind.steps().iter().any(|s| s.is_privilege_step()),
            "{}",
            c.id
        );
    }
}

#[test]
fn hostile_and_resource_steps_parse() {
    let text = format!(
        "{HEAD}kind = \"process\"\nrlimit_nofile = 64\nsteps = [\"mark\", \"connect\", \
         {{ write_until_blocked = {{ max_bytes = 1048576 }} }}, \
         {{ storm = {{ connects = 100, burst = 10, max_failed = 2 }} }}, {{ hold = {{ count = 5 }} }}, \
         \"ping_held\", \"release\", {{ expect_resources = {{ fd_delta = 1 }} }}, \
         {{ expect_rss = {{ max_kib = 1000 }} }}, {{ expect_cpu = {{ max_ms = 100 }} }}, \
         {{ signal = \"TERM\" }}, \"expect_group_empty\"]\n"
    );
    let cases = parse_file("t.toml", &text).unwrap();
    let c = &cases[0];
    assert_eq!(c.rlimit_nofile, Some(64));
    let steps = c.kind.steps();
    assert_eq!(
        steps[2],
        crate::Step::WriteUntilBlocked {
            max_bytes: 1 << 20,
            stall_ms: 300
        }
    );
    assert_eq!(
        steps[7],
        crate::Step::ExpectResources {
            fd_delta: 1,
            threads_delta: 0,
            settle_ms: 2000
        }
    );
    assert_eq!(
        steps[10],
        crate::Step::Signal {
            signal: crate::SignalName::Term
        }
    );
}

#[test]
fn storm_burst_over_connects() {
    check(
        "kind = \"script\"\nsteps = [{ storm = { connects = 10, burst = 20 } }]\n",
        "t.toml:7:",
        "steps[0].burst",
    );
}

#[test]
fn hold_of_zero() {
    check(
        "kind = \"script\"\nsteps = [{ hold = { count = 0 } }]\n",
        "t.toml:7:",
        "must be within 1..=100000",
    );
}

#[test]
fn expect_rss_needs_a_limit() {
    check(
        "kind = \"process\"\nsteps = [\"mark\", { expect_rss = {} }]\n",
        "t.toml:7:",
        "give `max_growth_kib`, `max_kib`, or both",
    );
}

#[test]
fn unknown_signal() {
    check(
        "kind = \"process\"\nsteps = [{ signal = \"USR9\" }]\n",
        "t.toml:7:",
        "unknown signal `USR9` (known: TERM, INT, HUP, KILL, STOP, CONT)",
    );
}

#[test]
fn rlimit_only_for_process_cases() {
    check(
        "kind = \"script\"\nrlimit_nofile = 64\nsteps = [\"connect\"]\n",
        "t.toml:7:",
        "only `process` cases",
    );
}

#[test]
fn rlimit_too_low() {
    check(
        "kind = \"process\"\nrlimit_nofile = 3\nsteps = [\"connect\"]\n",
        "t.toml:7:",
        "3 is outside 16..=1048576",
    );
}

#[test]
fn resource_steps_need_a_process_case() {
    check(
        "kind = \"script\"\nsteps = [\"mark\"]\n",
        "t.toml:7:",
        "`mark` observes the server process and needs `kind = \"process\"`",
    );
}

#[test]
fn restart_takes_a_known_signal() {
    let text = format!("{HEAD}kind = \"process\"\nsteps = [{{ restart = \"KILL\" }}]\n");
    let cases = parse_file("t.toml", &text).unwrap();
    assert_eq!(
        cases[0].kind.steps()[0],
        crate::Step::Restart {
            signal: crate::SignalName::Kill
        }
    );
    check(
        "kind = \"process\"\nsteps = [{ restart = \"STOPP\" }]\n",
        "t.toml:7:",
        "steps[0].restart: unknown signal `STOPP`",
    );
}

#[test]
fn baseline_checks_need_a_mark_first() {
    check(
        "kind = \"process\"\nsteps = [{ expect_cpu = { max_ms = 10 } }]\n",
        "t.toml:7:",
        "`expect_cpu` compares with a baseline",
    );
    check(
        "kind = \"process\"\nsteps = [\"mark\", { restart = \"TERM\" }, { expect_resources = {} }]\n",
        "t.toml:7:",
        "a `restart` drops the baseline",
    );
    check(
        "kind = \"process\"\nsteps = [{ restart = \"HUP\" }]\n",
        "t.toml:7:",
        "TERM (then the grace period) or KILL",
    );
    let ok = format!("{HEAD}kind = \"process\"\nsteps = [{{ expect_rss = {{ max_kib = 1 }} }}]\n");
    assert!(
        parse_file("t.toml", &ok).is_ok(),
        "a total needs no baseline"
    );
}

#[test]
fn udp_steps_are_checked() {
    check(
        "kind = \"script\"\nsteps = [\"udp_expect_echo\"]\n",
        "t.toml:7:",
        "`udp_expect_echo` needs a UDP socket; add `\"udp_open\"` before it",
    );
    check(
        "kind = \"script\"\nsteps = [\"udp_open\", { udp_on = \"other\" }]\n",
        "t.toml:7:",
        "`udp_on = \"other\"` names no UDP socket opened before it",
    );
    check(
        "kind = \"script\"\nsteps = [\"udp_open\", { udp_send = { seeded = { seed = 1, len = 65508 } } }]\n",
        "t.toml:7:",
        "a datagram of 65508 bytes is over the UDP maximum of 65507",
    );
    check(
        "kind = \"script\"\nsteps = [\"udp_open\", { udp_burst = { count = 10, size = 4, in_flight = 2, max_loss_pct = 1.0 } }]\n",
        "t.toml:7:",
        "steps[1].size: must be within 8..=65507",
    );
    check(
        "kind = \"script\"\nsteps = [{ connect_over = { name = \"x\", family = \"ipv5\" } }]\n",
        "t.toml:7:",
        "unknown family `ipv5` (known: ipv4, ipv6)",
    );
    let ok = format!("{HEAD}kind = \"script\"\nsteps = [\"udp_open\", {{ udp_send = {{ text = \"\" }} }}, \"udp_expect_echo\"]\n");
    let cases = parse_file("t.toml", &ok).unwrap();
    assert_eq!(
        cases[0].kind.steps()[1],
        crate::Step::UdpSend {
            payload: crate::Payload::Bytes(Vec::new())
        }
    );
}

#[test]
fn a_repeat_of_udp_steps_still_counts_and_checks_its_steps() {
    check(
        "kind = \"script\"\nsteps = [\"udp_open\", { repeat = { times = 100000, steps = [{ repeat = { times = 100000, steps = [\"udp_expect_echo\"] } }] } }]\n",
        "t.toml:7:",
        "steps once repeats are expanded",
    );
    check(
        "kind = \"script\"\nsteps = [\"udp_open\", { repeat = { times = 2, steps = [\"udp_expect_echo\", \"expect_echo\"] } }]\n",
        "t.toml:7:",
        "`expect_echo` needs an open connection",
    );
}

#[test]
fn send_urgent_takes_one_printable_character() {
    check(
        "kind = \"script\"\nsteps = [\"connect\", { send_urgent = \"ab\" }]\n",
        "t.toml:7:",
        "`ab` is not one printable ASCII character",
    );
    let text =
        format!("{HEAD}kind = \"script\"\nsteps = [\"connect\", {{ send_urgent = \"!\" }}]\n");
    let cases = parse_file("t.toml", &text).unwrap();
    assert_eq!(
        cases[0].kind.steps()[1],
        crate::Step::SendUrgent { byte: b'!' }
    );
}
