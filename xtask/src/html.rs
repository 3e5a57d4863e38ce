//! The conform matrix as one self-contained page (`target/conform/index.html`), and its check in a
//! real headless browser (`cargo xtask html-check`).
//!
//! Rows are cases, columns are the variants that ran (the server under test last, when given). The
//! data is embedded as JSON and the table is built by the page's script, so a DOM dumped by Chromium
//! after the scripts ran proves the page renders: `check` counts rows, cells and grade classes there.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use std::path::Path;
use xshell::{cmd, Shell};

/// One column: a variant's name, its claims, whether it is the server under test, and its report.
pub struct Column<'a> {
    /// The variant's name.
    pub name: &'a str,
    /// Its claims.
    pub claims: &'a str,
    /// True for the third-party server given with `--server`.
    pub under_test: bool,
    /// Its JSON report.
    pub report: &'a Value,
}

/// The data the page embeds: columns, cases, and per column the cell of each case.
pub fn data(columns: &[Column]) -> Value {
    let mut cases: Vec<Value> = Vec::new();
    for col in columns {
        for c in col.report["cases"].as_array().into_iter().flatten() {
            if !cases.iter().any(|x| x["id"] == c["id"]) {
                cases.push(json!({"id": c["id"], "title": c["title"], "level": c["level"]}));
            }
        }
    }
    let cols: Vec<Value> = columns
        .iter()
        .map(|col| {
            let mut cells = serde_json::Map::new();
            for c in col.report["cases"].as_array().into_iter().flatten() {
                let id = c["id"].as_str().unwrap_or("").to_string();
                cells.insert(
                    id,
                    json!({"grade": c["grade"], "claimed": c["claimed"], "failure": c["failure"],
                           "evidence": c["evidence"], "ms": c["duration_ms"]}),
                );
            }
            json!({"name": col.name, "claims": col.claims, "under_test": col.under_test,
                   "detected": col.report["detected"], "exit_code": col.report["exit_code"], "cells": cells})
        })
        .collect();
    json!({"columns": cols, "cases": cases})
}

/// The page for `data`.
pub fn render(data: &Value) -> String {
    let embedded = serde_json::to_string(data)
        .unwrap_or_default()
        .replace("</", "<\\/");
    PAGE.replace("/*DATA*/", &embedded)
}

const PAGE: &str = r###"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>echo-conform matrix</title>
<style>
body{font-family:sans-serif;margin:1em;font-size:14px}
table{border-collapse:collapse}
th,td{border:1px solid #bbb;padding:3px 6px}
th.col{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:normal}
th.col.sut{font-weight:bold;background:#ffe}
td.case{font-family:monospace;white-space:nowrap}
td.cell{text-align:center;cursor:pointer;min-width:3.5em;font-size:12px}
td.cell.unclaimed{opacity:.55;font-style:italic}
td.cell.diff{outline:3px solid #d00;outline-offset:-3px}
td.cell:hover{filter:brightness(.9)}
.g-pass{background:#c8f0c8}.g-fail{background:#f6b3b3;font-weight:bold}
.g-skip{background:#fbe7a1}.g-not-claimed{background:#eee;color:#777}
.g-info{background:#cfe8f6}.g-flaky{background:#e7c6f5;font-weight:bold}
.g-xfail{background:#f7dcb4}.g-xpass{background:#fff2a8}.g-none{background:#fff;color:#aaa}
#layout{display:flex;gap:1em;align-items:flex-start}
#detail{position:sticky;top:1em;flex:1;min-width:18em;max-width:60em;border:1px solid #999;padding:.5em 1em;background:#fafafa}
#detail pre{white-space:pre-wrap;font-size:12px;max-height:70vh;overflow:auto}
.legend span{display:inline-block;padding:2px 6px;margin-right:4px;border:1px solid #bbb}
</style></head>
<body>
<h1>echo-conform: cases × servers</h1>
<p class="legend" id="legend"></p>
<p>Cells in italics are cases the server does not claim, run by <code>--detect</code>. A red frame marks a cell of the
server under test whose grade differs from every reference. Click a cell for its evidence.</p>
<div id="layout"><div><table id="matrix"><thead></thead><tbody></tbody></table></div>
<div id="detail"><p>Click a cell.</p></div></div>
<script type="application/json" id="data">/*DATA*/</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const cls = g => "g-" + (g || "none").toLowerCase();
const el = (tag, attrs, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
const legend = document.getElementById("legend");
for (const g of ["PASS", "FAIL", "SKIP", "NOT-CLAIMED", "INFO", "FLAKY"]) legend.appendChild(el("span", {class: cls(g)}, g));
const refs = data.columns.filter(c => !c.under_test);
const head = el("tr");
head.appendChild(el("th", {}, "case"));
for (const c of data.columns) {
  const th = el("th", {class: "col" + (c.under_test ? " sut" : ""), title: c.claims}, c.name + (c.under_test ? " (under test)" : ""));
  head.appendChild(th);
}
document.querySelector("#matrix thead").appendChild(head);
const body = document.querySelector("#matrix tbody");
const detail = document.getElementById("detail");
const show = (col, kase, cell) => {
  detail.replaceChildren();
  detail.appendChild(el("h2", {}, kase.id));
  detail.appendChild(el("p", {}, kase.title + " [" + kase.level + "]"));
  detail.appendChild(el("p", {}, col.name + " (claims " + col.claims + "): " + (cell ? cell.grade : "not run") +
    (cell && cell.failure ? " [" + cell.failure + "]" : "") + (cell && !cell.claimed ? ", not claimed" : "") +
    (cell ? ", " + cell.ms + " ms" : "")));
  detail.appendChild(el("pre", {id: "evidence"}, (cell && cell.evidence) || "(no evidence: nothing to explain)"));
};
for (const kase of data.cases) {
  const tr = el("tr", {class: "case-row", "data-case": kase.id});
  tr.appendChild(el("td", {class: "case", title: kase.title}, kase.id));
  for (const col of data.columns) {
    const cell = col.cells[kase.id];
    const grade = cell ? cell.grade : null;
    let k = "cell " + cls(grade);
    if (cell && !cell.claimed && grade !== "NOT-CLAIMED") k += " unclaimed";
    if (col.under_test && refs.length > 0 && refs.every(r => (r.cells[kase.id] || {}).grade !== grade)) k += " diff";
    const td = el("td", {class: k, "data-grade": grade || "none", tabindex: "0"},
      grade === "NOT-CLAIMED" ? "n/c" : (grade || "–"));
    td.addEventListener("click", () => show(col, kase, cell));
    tr.appendChild(td);
  }
  body.appendChild(tr);
}
document.body.setAttribute("data-rendered", String(data.cases.length * data.columns.length));
// `#selftest` (used by `cargo xtask html-check`) opens the first failing cell, as a click would.
if (location.hash === "#selftest") {
  const failing = document.querySelector("td.cell.g-fail");
  if (failing) failing.click();
}
</script></body></html>
"###;

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
    if grades.iter().any(|g| g == "FAIL") && !dom.contains("<pre id=\"evidence\">") {
        problems.push("clicking a failing cell did not open its evidence".to_string());
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
        "html-check: {rows} rows × {columns} columns rendered by Chromium, grades {}; screenshot {}",
        grades.join(" "),
        shot.display()
    );
    Ok(())
}
