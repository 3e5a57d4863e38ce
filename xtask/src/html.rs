//! The check of the matrix page (`target/conform/index.html`, written by `echo-conform matrix`) in a
//! real headless browser (`cargo xtask html-check`).
//!
//! The table is built by the page's script, so a DOM dumped by Chromium after the scripts ran
//! proves the page renders: `check` counts rows, cells and grade classes there, and checks that a
//! click on a failing cell loaded that cell's evidence from its sidecar file.

use anyhow::{bail, Context};
use serde_json::Value;
use std::path::Path;
use xshell::{cmd, Shell};

/// The most the matrix page may weigh: its evidence is loaded on a click, from sidecar files.
const MAX_PAGE_BYTES: u64 = 2 << 20;

/// Finds a Chromium binary.
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(String::from)
}

/// Opens `dir/index.html` in headless Chromium, screenshots it to `dir/index.png`, and checks the
/// DOM after the scripts ran against `dir/matrix.json`: one row per case, one cell per case and
/// column, every grade present in the data present as a class, and a click on a failing cell
/// opening its evidence in the detail panel. Without Chromium: a SKIP line
/// outside CI, an error in CI.
pub fn check(sh: &Shell, dir: &Path) -> anyhow::Result<()> {
    let page = dir.join("index.html");
    let data: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("matrix.json")).with_context(|| {
            format!(
                "no {}; run `cargo xtask conform` first",
                dir.join("matrix.json").display()
            )
        })?,
    )?;
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            bail!("html-check: chromium is not installed (apt-get install chromium)");
        }
        println!("SKIP html-check: chromium is not installed (apt-get install chromium); the page was NOT checked in a browser");
        return Ok(());
    };
    let url = format!("file://{}", page.canonicalize()?.display());
    let shot = dir.join("index.png");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    cmd!(
        sh,
        "{browser} {flags...} --screenshot={shot} --window-size=1400,2000 {url}"
    )
    .quiet()
    .ignore_stderr()
    .run()
    .context("chromium --screenshot")?;
    let selftest = format!("{url}#selftest");
    let dom = cmd!(sh, "{browser} {flags...} --dump-dom {selftest}")
        .quiet()
        .ignore_stderr()
        .read()
        .context("chromium --dump-dom")?;
    let cases = data["cases"].as_array().map_or(0, Vec::len);
    let columns = data["columns"].as_array().map_or(0, Vec::len);
    let rows = dom.matches("<tr class=\"case-row\"").count();
    let cells = dom.matches("<td class=\"cell ").count();
    let mut problems = Vec::new();
    if cases == 0 || columns == 0 {
        problems.push("the matrix data is empty".to_string());
    }
    if rows != cases {
        problems.push(format!("{rows} rows rendered, {cases} cases in the data"));
    }
    if cells != cases * columns {
        problems.push(format!(
            "{cells} cells rendered, {} expected",
            cases * columns
        ));
    }
    let mut grades: Vec<String> = Vec::new();
    for col in data["columns"].as_array().into_iter().flatten() {
        for cell in col["cells"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            if let Some(g) = cell["grade"].as_str() {
                if !grades.iter().any(|x| x == g) {
                    grades.push(g.to_string());
                }
            }
        }
    }
    for g in &grades {
        let class = format!("cell g-{}", g.to_ascii_lowercase());
        if !dom.contains(&class) {
            problems.push(format!("no cell has class `{class}`"));
        }
    }
    if grades.iter().any(|g| g == "FAIL") {
        match dom.split("<pre id=\"evidence\">").nth(1) {
            None => problems.push("clicking a failing cell did not open its evidence".to_string()),
            Some(rest) if rest.starts_with("(loading") || rest.starts_with("(no evidence") => {
                problems.push(
                    "clicking a failing cell did not load its evidence from evidence/N.js"
                        .to_string(),
                )
            }
            Some(_) => {}
        }
    }
    let size = std::fs::metadata(&page).map_or(0, |m| m.len());
    if size > MAX_PAGE_BYTES {
        problems.push(format!(
            "index.html is {size} bytes; the page must stay under {MAX_PAGE_BYTES} (evidence belongs in evidence/)"
        ));
    }
    if !std::fs::metadata(&shot).is_ok_and(|m| m.len() > 0) {
        problems.push(format!("no screenshot at {}", shot.display()));
    }
    if !problems.is_empty() {
        bail!(
            "html-check of {}:\n  {}",
            page.display(),
            problems.join("\n  ")
        );
    }
    println!(
        "html-check: {rows} rows × {columns} columns rendered by Chromium ({size} bytes), grades {}, a failing cell's evidence loaded on click; screenshot {}",
        grades.join(" "),
        shot.display()
    );
    Ok(())
}
