//! Hostile input to the kit, generated: random bytes and randomly damaged copies of the real spec
//! files into the spec parser, random text into the claims, expect-fail and baseline readers.
//! Each must answer with a value or an error that names the file, and never panic.

use echo_conform::gate::{baseline::Baseline, expect};
use echo_spec::{ClaimSet, Spec, EMBEDDED};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Cases per generator: together well over ten thousand inputs.
const CASES: u32 = 3000;

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    })
}

/// One edit of a text: replace, insert or delete a byte at a relative position.
fn edits() -> impl Strategy<Value = Vec<(u8, f64, u8)>> {
    prop::collection::vec((0u8..3, 0.0f64..1.0, any::<u8>()), 1..8)
}

fn damage(text: &str, edits: &[(u8, f64, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(kind, at, byte) in edits {
        let i = ((bytes.len() as f64) * at) as usize;
        match kind {
            0 if i < bytes.len() => bytes[i] = byte,
            1 => bytes.insert(i.min(bytes.len()), byte),
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_spec_parser_survives_random_bytes() {
    runner()
        .run(&prop::collection::vec(any::<u8>(), 0..600), |bytes| {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Err(e) = Spec::from_files([("fuzz.toml".to_string(), text)]) {
                prop_assert!(e.to_string().contains("fuzz.toml"), "{e}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_spec_parser_survives_damaged_spec_files() {
    let files: Vec<(&str, &str)> = EMBEDDED.to_vec();
    runner()
        .run(&(0..files.len(), edits()), |(which, edits)| {
            let text = damage(files[which].1, &edits);
            if let Err(e) = Spec::from_files([("damaged.toml".to_string(), text)]) {
                let msg = e.to_string();
                prop_assert!(msg.contains("damaged.toml"), "{msg}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_claims_reader_survives_random_text() {
    let words = prop::sample::select(vec![
        "stream",
        "oneshot",
        "pool=",
        "pool=20",
        "single",
        "concurrent",
        "udp",
        ",",
        "=",
        "c10k",
        "prefix",
        "\u{0}",
        "pool=99999999999",
        " ",
    ]);
    runner()
        .run(&prop::collection::vec(words, 0..8), |parts| {
            let text = parts.concat();
            if let Ok(set) = text.parse::<ClaimSet>() {
                // What it prints reads back as the same set.
                prop_assert_eq!(set.to_string().parse::<ClaimSet>().ok(), Some(set));
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_expect_fail_and_baseline_readers_survive_random_text() {
    let spec = Spec::embedded().expect("the embedded spec");
    let sample = "[[expect_fail]]\nid = \"echo.text.short\"\nreason = \"because\"\n";
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("baseline.json");
    let base = "{\"claims\": \"stream\", \"passed\": [\"echo.text.short\"]}";
    runner()
        .run(&edits(), |edits| {
            if let Err(e) = expect::parse("xfail.toml", &damage(sample, &edits), &spec) {
                prop_assert!(e.to_string().contains("xfail.toml"), "{e}");
            }
            std::fs::write(&path, damage(base, &edits)).expect("write");
            if let Err(e) = Baseline::read(&path) {
                prop_assert!(e.to_string().contains("baseline.json"), "{e}");
            }
            Ok(())
        })
        .unwrap();
}

/// A case file around `steps`, a TOML array body.
fn case_with(steps: &str) -> String {
    format!(
        "[[case]]\nid = \"absurd.case\"\ntitle = \"t\"\nsource = \"s\"\nlevel = \"must\"\n\
         kind = \"script\"\nsteps = [\n    \"connect\",\n    {steps}\n]\n"
    )
}

/// The error a case file around `steps` is refused with; it must name the file.
fn refusal(steps: &str) -> String {
    let msg = Spec::from_files([("absurd.toml".to_string(), case_with(steps))])
        .expect_err("an absurd value is refused")
        .to_string();
    assert!(msg.contains("absurd.toml"), "{msg}");
    msg
}

/// `depth` repeats inside each other, each `times` over, around one send.
fn nested_repeats(depth: usize, times: u64) -> String {
    let mut s = "{ send = { text = \"x\" } }".to_string();
    for _ in 0..depth {
        s = format!("{{ repeat = {{ times = {times}, steps = [{s}] }} }}");
    }
    s
}

#[rstest::rstest]
#[case::length_2_pow_63(
    "{ send = { seeded = { seed = 1, len = 9223372036854775807 } } }",
    "len",
    "268435456"
)]
#[case::negative_length("{ send = { seeded = { seed = 1, len = -1 } } }", "`len`", "u64")]
#[case::repeat_10_pow_9(
    "{ repeat = { times = 1000000000, steps = [\"close\"] } }",
    "times",
    "100000"
)]
#[case::pause_for_ever("{ pause_reading = { ms = 18446744073709551615 } }", "ms", "")]
fn absurd_values_are_refused_with_their_bound(
    #[case] step: &str,
    #[case] field: &str,
    #[case] bound: &str,
) {
    let msg = refusal(step);
    assert!(msg.contains(field), "{msg}");
    assert!(
        msg.contains(bound),
        "the message states the bound {bound}: {msg}"
    );
}

#[test]
fn nested_repeats_that_multiply_past_the_limit_are_refused() {
    // 100000^4 overflows u64: the count must saturate, not wrap or panic.
    let msg = refusal(&nested_repeats(4, 100_000));
    assert!(msg.contains("1000000"), "{msg}");
}

#[test]
fn deeply_nested_repeats_are_refused_without_exhausting_the_stack() {
    refusal(&nested_repeats(5000, 1));
}

#[test]
fn a_million_step_list_is_refused_by_size_before_it_is_parsed() {
    let steps = vec!["\"connect\""; 1_000_000].join(", ");
    let msg = refusal(&steps);
    assert!(msg.contains("MiB"), "{msg}");
}
