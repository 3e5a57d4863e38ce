//! The comparison with ApacheBench: `ab` and `echo-load` against the same oneshot servers.

use super::launch;
use super::summary::median;
use serde_json::{json, Value};

/// `ab -n 20000 -c 50` beside `echo-load` (connection per request, 50 at once, an ab-sized
/// request) against the same oneshot server, which closes after its reply as ab needs; `reps`
/// times each, in alternating order, compared by medians.
pub fn ab_comparison(
    bin: &std::path::Path,
    pin: Option<(usize, usize)>,
    seconds: f64,
    reps: usize,
) -> anyhow::Result<Value> {
    if !launch::has_ab() {
        eprintln!(
            "ab: not installed (apt-get install apache2-utils); the ab comparison is skipped"
        );
        return Ok(json!({"skipped": "ab is not installed (apt-get install apache2-utils)"}));
    }
    let mut rows = Vec::new();
    for model in ["epoll", "tokio"] {
        let argv: Vec<String> = [
            bin.join("echo-server").display().to_string(),
            "--model".into(),
            model.into(),
            "--oneshot".into(),
            "--port".into(),
            "{port}".into(),
        ]
        .to_vec();
        // Each connection leaves a TIME_WAIT behind, and whichever client runs second meets the
        // first one's: the order alternates between repetitions, and the medians are compared.
        let (mut ab_rates, mut our_rates, mut ab_failed) = (Vec::new(), Vec::new(), 0u64);
        for rep in 0..reps {
            let server = launch::start(&argv, pin, false)?;
            let run_ab = || launch::ab(server.port, 20_000, 50, pin);
            // ab's request is about 80 bytes; echo-load sends the same amount.
            let run_ours = || {
                launch::load(
                    bin,
                    server.port,
                    server.pgid(),
                    "--mode conn-per-request --connections 50 --payload 80",
                    seconds,
                    pin,
                )
            };
            let (ab, ours) = if rep % 2 == 0 {
                let ab = run_ab();
                (ab, run_ours())
            } else {
                let ours = run_ours();
                (run_ab(), ours)
            };
            drop(server);
            let (rate, failed) = ab?;
            ab_rates.push(rate);
            ab_failed += failed;
            our_rates.push(ours?["rate"].as_f64().unwrap_or(0.0));
        }
        let (ab_rate, rate) = (median(&ab_rates), median(&our_rates));
        rows.push(json!({
            "server": format!("{model} --oneshot"),
            "ab_rate": ab_rate,
            "ab_samples": ab_rates,
            "ab_failed": ab_failed,
            "echo_load_rate": rate,
            "echo_load_samples": our_rates,
            "ratio": if ab_rate > 0.0 { rate / ab_rate } else { 0.0 },
        }));
    }
    Ok(json!({"rows": rows}))
}
