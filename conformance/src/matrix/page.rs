//! The matrix page (`index.html`): rows are cases, columns are servers. The grades and each
//! server's findings are embedded as JSON and the table is built by the page's script; a row of
//! the table's head, `defects`, counts each server's findings (a click lists them); each column's
//! evidence is a sidecar script (`evidence/N.js`) loaded on the first click, so the page stays
//! small whatever the evidence.

use serde_json::{json, Value};
use std::path::Path;

/// One column: a server's name, its claims, whether it is the server under test, its report, and
/// how long its run took.
pub struct Column<'a> {
    /// The server's name.
    pub name: &'a str,
    /// Its claims.
    pub claims: &'a str,
    /// True for a server compared against the others (`under_test = true`).
    pub under_test: bool,
    /// Its JSON report.
    pub report: &'a Value,
}

/// A run's findings as the matrix keeps them: signature, diagnosis, primary case, cases, fix and
/// level of each (`fix` null where none is known).
fn findings(report: &Value) -> Vec<Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            json!({"signature": f["signature"], "diagnosis": f["diagnosis"], "primary": f["primary"],
                   "cases": f["cases"], "fix": f["fix"], "level": f["level"]})
        })
        .collect()
}

/// The matrix data (`matrix.json`): columns with every cell, evidence included, and each server's
/// findings; and cases.
pub fn data(columns: &[Column], duration_ms: u64) -> Value {
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
                   "detected": col.report["detected"], "exit_code": col.report["exit_code"],
                   "duration_ms": col.report["duration_ms"], "findings": findings(col.report),
                   "cells": cells})
        })
        .collect();
    json!({"columns": cols, "cases": cases, "duration_ms": duration_ms})
}

/// Writes `index.html` and `evidence/N.js` for `data` into `dir`.
pub fn write(dir: &Path, data: &Value) -> std::io::Result<()> {
    let mut slim = data.clone();
    let ev_dir = dir.join("evidence");
    std::fs::create_dir_all(&ev_dir)?;
    for (i, col) in slim["columns"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut evidence = serde_json::Map::new();
        for (id, cell) in col["cells"].as_object_mut().into_iter().flatten() {
            if let Some(e) = cell.as_object_mut().and_then(|c| c.remove("evidence")) {
                if !e.is_null() {
                    evidence.insert(id.clone(), e);
                }
            }
        }
        let script = format!(
            "echoConformEvidence({i}, {});\n",
            script_safe(&Value::Object(evidence))
        );
        std::fs::write(ev_dir.join(format!("{i}.js")), script)?;
    }
    std::fs::write(dir.join("index.html"), render(&slim))
}

/// JSON that cannot end the script element it sits in.
fn script_safe(v: &Value) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .replace("</", "<\\/")
        .replace("<!--", "<\\u0021--")
}

/// The page for `data` (without evidence: see [`write()`]).
pub fn render(data: &Value) -> String {
    PAGE.replace("/*DATA*/", &script_safe(data))
}

/// The page: the data is embedded, the evidence is not.
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
td.cell.unclaimed{font-style:italic;background-image:repeating-linear-gradient(135deg,transparent 0 5px,rgba(255,255,255,.65) 5px 9px)}
td.cell.unclaimed.g-fail{background-color:#d9c6e6;font-weight:normal}
td.cell.unclaimed.g-pass{background-color:#d5e8d5}
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
tr.defects-row th{text-align:left;font-weight:normal}
td.defects{text-align:center;cursor:pointer;font-size:12px}
td.defects.some{background:#f6b3b3;font-weight:bold}
td.defects.none{background:#c8f0c8}
#detail li{margin-bottom:.5em}
</style></head>
<body>
<h1>echo-conform: cases × servers</h1>
<p class="legend" id="legend"></p>
<p id="times"></p>
<p>Hatched cells in italics are cases the server does not claim, run by <code>--detect</code>: they do not gate. A red frame marks a cell of the
server under test whose grade differs from every reference. Click a cell for its evidence, and a server's
<em>defects</em> count for its findings.</p>
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
legend.appendChild(el("span", {class: "cell unclaimed g-fail"}, "FAIL, not claimed (--detect; does not gate)"));
const refs = data.columns.filter(c => !c.under_test);
// Each column's evidence lives in a sidecar script (evidence/N.js), loaded on the first click, so
// the page stays small; a script element works from file:// where fetch() does not.
const evidence = {}, waiting = {};
window.echoConformEvidence = (i, cells) => {
  evidence[i] = cells;
  for (const f of waiting[i] || []) f(cells);
  delete waiting[i];
};
const withEvidence = (col, f) => {
  const i = data.columns.indexOf(col);
  if (evidence[i]) return f(evidence[i]);
  if (!waiting[i]) {
    waiting[i] = [];
    const s = el("script", {src: "evidence/" + i + ".js"});
    s.onerror = () => f({});
    document.head.appendChild(s);
  }
  waiting[i].push(f);
};
const secs = ms => (ms / 1000).toFixed(1) + " s";
document.getElementById("times").textContent = "run time: " + secs(data.duration_ms || 0) + " in all; " +
  data.columns.map(c => c.name + " " + secs(c.duration_ms || 0)).join(", ");
const head = el("tr");
head.appendChild(el("th", {}, "case"));
for (const c of data.columns) {
  const th = el("th", {class: "col" + (c.under_test ? " sut" : ""), title: c.claims}, c.name + (c.under_test ? " (under test)" : ""));
  head.appendChild(th);
}
document.querySelector("#matrix thead").appendChild(head);
const body = document.querySelector("#matrix tbody");
const detail = document.getElementById("detail");
// The findings of each server: a count in the head, each diagnosis in its title, all of them in
// the detail panel on a click.
const findingText = (f, i, all) => "finding " + (i + 1) + " of " + all.length + " [" +
  String(f.level || "").toUpperCase() + "]: " + f.diagnosis + " (primary case: " + f.primary + ")";
const showFindings = col => {
  const fs = col.findings || [];
  detail.replaceChildren();
  detail.appendChild(el("h2", {}, col.name + ": " + fs.length + (fs.length === 1 ? " defect" : " defects")));
  detail.appendChild(el("p", {}, "claims " + col.claims + (col.detected ? "; detected " + col.detected : "")));
  const list = el("ol", {id: "findings"});
  for (const f of fs) {
    const li = el("li", {class: "finding"});
    li.appendChild(el("b", {}, "[" + String(f.level || "").toUpperCase() + "] "));
    li.appendChild(document.createTextNode(f.diagnosis));
    li.appendChild(el("div", {}, "primary case: " + f.primary + " (run it alone: --case " + f.primary + ")"));
    if (f.fix) li.appendChild(el("div", {}, "fix: " + f.fix));
    if ((f.cases || []).length > 1) li.appendChild(el("div", {}, "also: " + f.cases.slice(1).join(", ")));
    list.appendChild(li);
  }
  detail.appendChild(list);
};
const defects = el("tr", {class: "defects-row"});
defects.appendChild(el("th", {}, "defects"));
for (const c of data.columns) {
  const fs = c.findings || [];
  const td = el("td", {class: "defects " + (fs.length ? "some" : "none"), "data-defects": String(fs.length), tabindex: "0",
    title: fs.length ? fs.map(findingText).join("\n") : "no defects found"}, String(fs.length));
  td.addEventListener("click", () => showFindings(c));
  defects.appendChild(td);
}
document.querySelector("#matrix thead").appendChild(defects);
const show = (col, kase, cell) => {
  detail.replaceChildren();
  detail.appendChild(el("h2", {}, kase.id));
  detail.appendChild(el("p", {}, kase.title + " [" + kase.level + "]"));
  detail.appendChild(el("p", {}, col.name + " (claims " + col.claims + "): " + (cell ? cell.grade : "not run") +
    (cell && cell.failure ? " [" + cell.failure + "]" : "") + (cell && !cell.claimed ? ", not claimed" : "") +
    (cell ? ", " + cell.ms + " ms" : "")));
  const fs = col.findings || [];
  const at = fs.findIndex(f => (f.cases || []).includes(kase.id));
  if (at >= 0) detail.appendChild(el("p", {class: "finding"}, findingText(fs[at], at, fs)));
  const pre = el("pre", {id: "evidence"}, "(loading the evidence…)");
  detail.appendChild(pre);
  withEvidence(col, ev => { pre.textContent = (ev[kase.id]) || "(no evidence: nothing to explain)"; });
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
// It runs while the page loads, so its evidence script delays the load event a DOM dump waits for.
if (location.hash === "#selftest") {
  const failing = document.querySelector("td.cell.g-fail:not(.unclaimed)") || document.querySelector("td.cell.g-fail");
  if (failing) failing.click();
}
</script></body></html>
"###;
