//! What a run's JSON report says about a mutant: the grade of a case, whether the findings are one
//! per defect, and whether the runner itself caught a mutant no case names.

use std::process::Output;

/// True when the runner caught a mutant no case names: the run exited 3 (the server did not
/// start), or it noted a process that left the group and ended it, so none of it is left.
pub fn escape_caught(out: &Output, name: &str) -> bool {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let noted = json["run_notes"]
        .as_array()
        .is_some_and(|n| n.iter().any(|note| note["kind"] == "left-group"));
    out.status.code() == Some(3) || (noted && left_running(&format!("--mutant {name} ")).is_empty())
}

/// The grade a run's JSON report gives `case`; `None` when it has no such case (or no report).
pub fn grade(out: &Output, case: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["cases"].as_array().and_then(|cases| {
        cases
            .iter()
            .find(|c| c["id"] == case)
            .and_then(|c| c["grade"].as_str().map(String::from))
    })
}

/// Whether a run's findings are one per target case: as many findings as targets (up to `most`
/// where one defect may show as several), each target explained by a finding of its own. Either
/// way, the text says what the run found.
pub fn findings_match(out: &Output, targets: &[String], most: usize) -> Result<String, String> {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let findings = json["findings"].as_array().cloned().unwrap_or_default();
    let summary: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "[{}] {} (primary {}, {} case(s))",
                f["level"].as_str().unwrap_or(""),
                f["diagnosis"].as_str().unwrap_or(""),
                f["primary"].as_str().unwrap_or(""),
                f["cases"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    let explains = |f: &serde_json::Value, t: &str| {
        f["cases"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c == t))
    };
    let mut used = vec![false; findings.len()];
    let mut matched = 0;
    for t in targets {
        if let Some(i) = (0..findings.len()).find(|&i| !used[i] && explains(&findings[i], t)) {
            used[i] = true;
            matched += 1;
        }
    }
    let text = format!("{} finding(s): {}", findings.len(), summary.join("; "));
    if (targets.len()..=most).contains(&findings.len()) && matched == targets.len() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// The pids whose command line contains `needle`, other than this process.
fn left_running(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}
