//! The docs cannot go stale: every ` ```console ` block of the README and of `docs/*.md` runs here,
//! and what each command prints is compared with what the page shows. The blocks read as a
//! terminal, in trycmd's syntax: `$ ` starts a command (split as a shell would, never run by one),
//! `? CODE` (or `? failed`) gives its exit status when it is not 0, and the lines after it are its
//! output, where `...` on a line of its own stands for any lines and `[..]` for any text within a
//! line (snapbox compares them). Commands run from the repository's root, so a page names the files
//! of this repository as a reader of a clone would.

use crate::util::bin;
use std::path::{Path, PathBuf};

/// The repository's root (the tests crate sits one level down).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// One command of a console block, where it is written and what it should do.
#[derive(Debug)]
struct Example {
    /// `FILE:LINE` of its `$ ` line.
    at: String,
    /// The words of the command, the program first.
    argv: Vec<String>,
    /// The exit status it must end with; `None` for any failure (`? failed`).
    status: Option<i32>,
    /// What it prints (stdout, then stderr), with the elisions.
    output: String,
}

/// The programs a console block may run, each with where the build put it.
const PROGRAMS: &[&str] = &["echo-conform", "echo-server"];

/// The console blocks' commands of the markdown file `path`.
fn examples(path: &Path) -> Vec<Example> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rel = path
        .strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string();
    let mut out = Vec::new();
    let mut in_console = false;
    let mut current: Option<Example> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if fence && !in_console {
            in_console = line.trim_start() == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        if fence {
            out.extend(current.take());
            in_console = false;
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.extend(current.take());
            let argv = shlex::split(cmd)
                .unwrap_or_else(|| panic!("{rel}:{}: cannot split `{cmd}`", i + 1));
            current = Some(Example {
                at: format!("{rel}:{}", i + 1),
                argv,
                status: Some(0),
                output: String::new(),
            });
        } else if let Some(ex) = current.as_mut() {
            match line.strip_prefix("? ") {
                Some(status) if ex.output.is_empty() => {
                    ex.status = match status.trim() {
                        "failed" => None,
                        code => Some(code.parse().unwrap_or_else(|_| {
                            panic!("{}: `? {code}` is not an exit status", ex.at)
                        })),
                    }
                }
                _ => {
                    ex.output.push_str(line);
                    ex.output.push('\n');
                }
            }
        } else {
            panic!(
                "{rel}:{}: a console block's output before any `$ ` command",
                i + 1
            );
        }
    }
    out
}

/// The README and every page of `docs/`.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![repo().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// `PATH` with the build's binaries first.
fn path_with_the_build() -> std::ffi::OsString {
    let dir = bin("echo-conform")
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut dirs = vec![dir];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap_or_default()
}

/// Runs one example and compares its status and output with the page's.
fn check(ex: &Example) {
    let program = &ex.argv[0];
    assert!(
        PROGRAMS.contains(&program.as_str()),
        "{}: `{program}` is not a program the docs tests can run ({PROGRAMS:?})",
        ex.at
    );
    let _loading = crate::util::cpu_loading();
    let started = std::time::Instant::now();
    // Backslashes are the server's bytes (`"\n"`), not path separators: no path normalizing.
    let run = snapbox::cmd::Command::new(bin(program))
        .with_assert(snapbox::Assert::new().normalize_paths(false))
        .args(&ex.argv[1..])
        .current_dir(repo())
        // A page's `--cmd 'echo-server …'` finds the reference servers as an installed one would.
        .env("PATH", path_with_the_build())
        .stderr_to_stdout()
        .timeout(std::time::Duration::from_secs(600))
        .assert();
    let run = match ex.status {
        Some(code) => run.code(code),
        None => run.failure(),
    };
    run.stdout_eq(ex.output.as_str());
    eprintln!("{}: ok in {:.1} s", ex.at, started.elapsed().as_secs_f64());
}

#[test]
fn every_console_example_of_the_docs_runs_as_shown() {
    let all: Vec<Example> = pages().iter().flat_map(|p| examples(p)).collect();
    let files: std::collections::BTreeSet<&str> = all
        .iter()
        .map(|e| e.at.split(':').next().unwrap_or(""))
        .collect();
    eprintln!(
        "docs examples: {} command(s) in {} file(s): {}",
        all.len(),
        files.len(),
        files.iter().copied().collect::<Vec<_>>().join(", ")
    );
    assert!(
        all.len() >= 6,
        "only {} console examples found; the README shows more",
        all.len()
    );
    for ex in &all {
        check(ex);
    }
}

#[test]
fn the_example_parser_reads_commands_statuses_and_output() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let page = dir.path().join("page.md");
    std::fs::write(
        &page,
        "text\n```console\n$ echo-conform list --claims 'stream, udp'\nline one\n...\n$ echo-conform run\n? 2\nerror [..]\n```\n```sh\n$ not run\n```\n",
    )
    .expect("write");
    let ex = examples(&page);
    assert_eq!(ex.len(), 2, "{ex:?}");
    assert_eq!(
        ex[0].argv,
        ["echo-conform", "list", "--claims", "stream, udp"]
    );
    assert_eq!(ex[0].status, Some(0));
    assert_eq!(ex[0].output, "line one\n...\n");
    assert_eq!(ex[1].status, Some(2));
    assert_eq!(ex[1].output, "error [..]\n");
}

/// Pages that still show `echo-conform` commands in blocks that do not run (their servers are
/// placeholders such as `./server`). The list only shrinks: a page leaves it when its examples become
/// console blocks, and no page joins it.
const NOT_YET_RUN: &[&str] = &["docs/ci.md"];

/// How many fenced blocks of `text` that are not console blocks hold an `echo-conform` command.
fn unrun_commands(text: &str) -> usize {
    let mut count = 0;
    let mut lang: Option<String> = None;
    let mut seen = false;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match lang.take() {
                Some(_) => count += usize::from(seen),
                None => lang = Some(info.trim().to_string()),
            }
            seen = false;
        } else if lang.as_deref().is_some_and(|l| l != "console") {
            let cmd = t.strip_prefix("$ ").unwrap_or(t);
            seen |= cmd.starts_with("echo-conform ");
        }
    }
    count
}

#[test]
fn every_echo_conform_example_is_a_console_block_that_runs() {
    let mut wrong = Vec::new();
    for page in pages() {
        let rel = page
            .strip_prefix(repo())
            .unwrap_or(&page)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let unrun = unrun_commands(&text);
        let listed = NOT_YET_RUN.contains(&rel.as_str());
        if unrun > 0 && !listed {
            wrong.push(format!(
                "{rel}: {unrun} block(s) show echo-conform commands that no test runs; make them \
                 ```console blocks (tests/docs.rs runs them)"
            ));
        } else if unrun == 0 && listed {
            wrong.push(format!(
                "{rel}: every example runs now; take it off NOT_YET_RUN"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
