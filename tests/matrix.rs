//! `echo-conform matrix TARGETS.toml`: several servers, run side by side, one matrix page, JSON and
//! text, a report directory each, and the worst exit code; bad targets files are refused with
//! their line. The reference targets file declares what each model claims.

use crate::util::{bin, conform, exit, model_claims};
use serde_json::Value;
use std::path::Path;

fn targets(dir: &Path, body: &str) -> String {
    let path = dir.join("targets.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn a_matrix_of_a_reference_a_python_server_and_a_mutant() {
    let dir = tempfile::tempdir().unwrap();
    // A Python server written here: one thread per connection, echoing until EOF.
    let python = dir.path().join("echo.py");
    std::fs::write(
        &python,
        "import socketserver, sys\n\
         class H(socketserver.BaseRequestHandler):\n\
         \x20   def handle(self):\n\
         \x20       while d := self.request.recv(65536):\n\
         \x20           self.request.sendall(d)\n\
         class S(socketserver.ThreadingTCPServer):\n\
         \x20   allow_reuse_address = True\n\
         \x20   daemon_threads = True\n\
         S(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n",
    )
    .unwrap();
    let file = targets(
        dir.path(),
        &format!(
            "[defaults]\nargs = [\"--case\", \"echo.*\", \"--detect\"]\n\n\
             [[target]]\nname = \"tokio\"\ncmd = \"{{bin}}/echo-server --model tokio --port {{port}}\"\n\
             claims = \"stream,forever,concurrent\"\n\n\
             [[target]]\nname = \"python\"\ncmd = \"python3 {} {{port}}\"\n\
             claims = \"stream,forever,concurrent\"\n\n\
             [[target]]\nname = \"truncating\"\ncmd = \"{} --mutant truncate --port {{port}}\"\n\
             claims = \"stream,forever,concurrent\"\n",
            python.display(),
            bin("echo-mutant").display()
        ),
    );
    let out = dir.path().join("out");
    let run = conform(&[
        "matrix",
        &file,
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    // The mutant fails a claimed case: the matrix exits with the worst code, 1.
    assert_eq!(run.code(), exit::CASE_FAILED, "{run}");
    let stdout = String::from_utf8_lossy(&run.out.stdout);
    assert!(
        stdout.contains("truncating") && stdout.contains("FAIL"),
        "{stdout}"
    );
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("matrix.json")).unwrap()).unwrap();
    let cols = data["columns"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    assert_eq!(cols[0]["name"], "tokio");
    assert_eq!(cols[1]["name"], "python");
    assert_eq!(cols[1]["exit_code"], 0, "{:#}", cols[1]);
    assert_eq!(cols[2]["exit_code"], 1);
    assert!(
        cols.iter().all(|c| c["duration_ms"].as_u64().is_some()),
        "{data:#}"
    );
    assert!(data["duration_ms"].as_u64().is_some());
    let failing = cols[2]["cells"]
        .as_object()
        .unwrap()
        .values()
        .find(|c| c["grade"] == "FAIL" && c["claimed"] == true)
        .expect("a failing cell");
    let evidence = failing["evidence"].as_str().unwrap();
    // The page carries the grades, not the evidence; the evidence is in the column's sidecar.
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    let first_line = evidence.lines().next().unwrap();
    assert!(!page.contains(first_line), "evidence inlined in the page");
    let sidecar = std::fs::read_to_string(out.join("evidence/2.js")).unwrap();
    assert!(sidecar.starts_with("echoConformEvidence(2, "), "{sidecar}");
    // The failing step, as the evidence names it, is in the sidecar: one click away.
    let step = first_line.split(':').next().unwrap();
    assert!(sidecar.contains(step), "{step} not in {sidecar}");
    // Each server's findings, from its run's report: none for the reference, the mutant's defect.
    assert_eq!(cols[0]["findings"], serde_json::json!([]), "{:#}", cols[0]);
    let findings = cols[2]["findings"].as_array().expect("a findings array");
    assert!(!findings.is_empty(), "{:#}", cols[2]);
    for f in findings {
        for key in ["signature", "diagnosis", "primary", "cases", "fix", "level"] {
            assert!(f.get(key).is_some(), "{key} missing: {f:#}");
        }
        assert_eq!(f["cases"][0], f["primary"], "{f:#}");
        let case = f["primary"].as_str().unwrap();
        assert_eq!(cols[2]["cells"][case]["grade"], "FAIL", "{f:#}");
    }
    // matrix.txt counts them in its `defects` column.
    let text = std::fs::read_to_string(out.join("matrix.txt")).unwrap();
    assert!(text.lines().next().unwrap().contains("defects"), "{text}");
    let row = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name} in\n{text}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(row("tokio"), "0", "{text}");
    assert_eq!(row("truncating"), findings.len().to_string(), "{text}");
    for name in ["tokio", "python", "truncating"] {
        let d = out.join(name);
        assert!(d.join("report.json").is_file() && d.join("junit.xml").is_file());
        assert!(d.join("run.log").is_file());
    }
}

#[test]
fn bad_targets_files_exit_2_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for (body, needle) in [
        (
            "[[target]]\nname = \"a\"\n",
            ":1: target `a`: give exactly one of `cmd` or `addr`",
        ),
        (
            "[[target]]\nname = \"a\"\naddr = \"x\"\ncolour = 1\n",
            ":4:",
        ),
        ("", "no [[target]]"),
    ] {
        let file = targets(dir.path(), body);
        let run = conform(&[
            "matrix",
            &file,
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ]);
        assert_eq!(run.code(), exit::USAGE, "{run}");
        assert!(
            run.stderr().contains(&file) && run.stderr().contains(needle),
            "{run}"
        );
    }
    let run = conform(&["matrix", "/nonexistent/targets.toml"]);
    assert_eq!(run.code(), exit::USAGE, "{run}");
}

/// `reference-servers/targets.toml`, which `cargo xtask conform` runs, says for each model what the
/// model itself declares (`echo-server --model … --claims`).
#[test]
fn the_reference_targets_claim_what_the_models_declare() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference-servers/targets.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    let all = file["target"].as_array().unwrap();
    assert!(all.len() >= 17, "{} targets", all.len());
    for t in all {
        let cmd = t["cmd"].as_str().unwrap();
        let family = t["args"].as_array().unwrap()[1].as_str().unwrap();
        let bind = match family {
            "6" => "::1",
            "both" => "::",
            _ => "127.0.0.1",
        };
        let flags: Vec<String> = cmd
            .replace("{bind}", bind)
            .split_whitespace()
            .skip(2) // `{bin}/echo-server --model`
            .take_while(|w| *w != "--port")
            .map(String::from)
            .collect();
        let (model, extra) = flags.split_first().unwrap();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        assert_eq!(
            t["claims"].as_str().unwrap(),
            model_claims(model, &extra),
            "{}",
            t["name"]
        );
    }
}
