//! The targets file of `echo-conform matrix`: one `[[target]]` per server, each with a name, a
//! command (`{port}` filled in per launch, `{bin}` the directory holding `echo-conform`) or an
//! address, its claims, and the `run` flags it needs.
//!
//! ```toml
//! [defaults]
//! args = ["--detect"]          # given to every target, before its own args
//!
//! [[target]]
//! name = "tokio"
//! cmd = "{bin}/echo-server --model tokio --port {port}"
//! claims = "stream,forever,concurrent"
//! args = ["--family", "4"]
//! expect_fail = "expected/tokio.toml"   # relative to this file
//! root = false                           # true: run only as root, else skipped with the reason
//! ```

use crate::error::Error;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The largest targets file read.
const MAX_BYTES: u64 = 1 << 20;
/// The most targets one file may hold.
pub const MAX_TARGETS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    target: Vec<toml::Spanned<RawTarget>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    cmd: Option<String>,
    addr: Option<String>,
    #[serde(default)]
    claims: String,
    #[serde(default)]
    args: Vec<String>,
    expect_fail: Option<PathBuf>,
    baseline: Option<PathBuf>,
    #[serde(default)]
    root: bool,
}

/// One server of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Its name: a column of the matrix and the name of its report directory.
    pub name: String,
    /// `--cmd` (with `{bin}` already filled in) or `--addr`, as `run` flags.
    pub how: [String; 2],
    /// Its claims.
    pub claims: String,
    /// The `run` flags: the defaults', then its own.
    pub args: Vec<String>,
    /// `--expect-fail`, resolved against the targets file's directory.
    pub expect_fail: Option<PathBuf>,
    /// `--baseline`, resolved likewise.
    pub baseline: Option<PathBuf>,
    /// Run only as root.
    pub root: bool,
}

/// Reads `path`. `bin` fills `{bin}` in commands. Every error names the file, and the line of the
/// target at fault.
pub fn load(path: &Path, bin: &Path) -> Result<Vec<Target>, Error> {
    let bad = |msg: String| Error::Spec(format!("{}: {msg}", path.display()));
    let size = std::fs::metadata(path)
        .map_err(|e| bad(format!("cannot read: {e}")))?
        .len();
    if size > MAX_BYTES {
        return Err(bad(format!(
            "{size} bytes; a targets file may hold at most {MAX_BYTES}"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir, bin).map_err(|(line, msg)| match line {
        Some(l) => Error::Spec(format!("{}:{l}: {msg}", path.display())),
        None => bad(msg),
    })
}

/// Parses a targets file's `text`; paths in it are relative to `dir`. An error carries its line.
pub fn parse(text: &str, dir: &Path, bin: &Path) -> Result<Vec<Target>, (Option<usize>, String)> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        (
            e.span().map(|s| line_of(s.start)),
            e.message().trim().to_string(),
        )
    })?;
    if raw.target.is_empty() {
        return Err((None, "no [[target]]: nothing to run".into()));
    }
    if raw.target.len() > MAX_TARGETS {
        return Err((
            None,
            format!("{} targets; at most {MAX_TARGETS}", raw.target.len()),
        ));
    }
    let mut targets: Vec<Target> = Vec::new();
    for spanned in raw.target {
        let line = Some(line_of(spanned.span().start));
        let t = spanned.into_inner();
        let err = |msg: String| (line, format!("target `{}`: {msg}", t.name));
        let name_ok = !t.name.is_empty()
            && t.name.len() <= 64
            && t.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !t.name.starts_with('.');
        if !name_ok {
            return Err(err(
                "`name` must be 1 to 64 of A-Z a-z 0-9 - _ . (it names a directory)".into(),
            ));
        }
        if targets.iter().any(|x| x.name == t.name) {
            return Err(err("a second target with this name".into()));
        }
        let how = match (&t.cmd, &t.addr) {
            (Some(cmd), None) => {
                if !cmd.contains("{port}") {
                    return Err(err("`cmd` has no `{port}`".into()));
                }
                let cmd = cmd.replace("{bin}", &bin.display().to_string());
                ["--cmd".to_string(), cmd]
            }
            (None, Some(addr)) => ["--addr".to_string(), addr.clone()],
            _ => return Err(err("give exactly one of `cmd` or `addr`".into())),
        };
        let mut args = raw.defaults.args.clone();
        args.extend(t.args.iter().cloned());
        if let Some(flag) = args.iter().find(|a| {
            matches!(
                a.as_str(),
                "--cmd" | "--addr" | "--claims" | "--format" | "--output" | "--report-dir"
            )
        }) {
            return Err(err(format!(
                "`{flag}` in `args` is set by `matrix` itself (use the target's own fields)"
            )));
        }
        targets.push(Target {
            name: t.name.clone(),
            how,
            claims: t.claims.clone(),
            args,
            expect_fail: t.expect_fail.as_ref().map(|p| dir.join(p)),
            baseline: t.baseline.as_ref().map(|p| dir.join(p)),
            root: t.root,
        });
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Vec<Target> {
        parse(text, Path::new("/t"), Path::new("/b")).unwrap()
    }

    fn parse_err(text: &str) -> (Option<usize>, String) {
        parse(text, Path::new("/t"), Path::new("/b")).unwrap_err()
    }

    #[test]
    fn a_target_gets_defaults_bin_and_paths() {
        let t = parse_ok(
            "[defaults]\nargs = [\"--detect\"]\n[[target]]\nname = \"a\"\n\
             cmd = \"{bin}/srv --port {port}\"\nclaims = \"stream\"\nargs = [\"--heavy\"]\n\
             expect_fail = \"x.toml\"\n",
        );
        assert_eq!(
            t[0].how,
            ["--cmd".to_string(), "/b/srv --port {port}".into()]
        );
        assert_eq!(t[0].args, ["--detect", "--heavy"]);
        assert_eq!(t[0].expect_fail.as_deref(), Some(Path::new("/t/x.toml")));
    }

    #[test]
    fn bad_targets_name_their_line() {
        let two = "[[target]]\nname = \"a\"\naddr = \"127.0.0.1:7\"\n\n[[target]]\nname = \"b\"\n";
        let (line, msg) = parse_err(two);
        assert_eq!(line, Some(5), "{msg}");
        assert!(msg.contains("exactly one of"), "{msg}");
        let (line, msg) = parse_err("[[target]]\nname = \"a/b\"\naddr = \"x\"\n");
        assert_eq!(line, Some(1));
        assert!(msg.contains("name"), "{msg}");
        let (_, msg) = parse_err("[[target]]\nname = \"a\"\ncmd = \"srv\"\n");
        assert!(msg.contains("{port}"), "{msg}");
        let (_, msg) = parse_err(
            "[[target]]\nname = \"a\"\naddr = \"x\"\n[[target]]\nname = \"a\"\naddr = \"y\"\n",
        );
        assert!(msg.contains("second"), "{msg}");
        let (line, msg) = parse_err("[[target]]\nname = \"a\"\nbogus = 1\n");
        assert_eq!(line, Some(3), "{msg}");
        let (_, msg) =
            parse_err("[[target]]\nname = \"a\"\naddr = \"x\"\nargs = [\"--format\", \"tap\"]\n");
        assert!(msg.contains("--format"), "{msg}");
        assert!(parse_err("").1.contains("no [[target]]"));
    }
}
