//! The requirements registry (`spec/requirements.toml`): each requirement the spec checks, with its
//! source and the cases (ids or globs) that check it. It is embedded next to the cases; `--spec DIR`
//! reads `DIR/requirements.toml` when present.

use crate::error::{line_col, SpecError};
use crate::Spec;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// The registry's file name, in a spec directory.
pub const REQUIREMENTS_FILE: &str = "requirements.toml";

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Stable dotted id, e.g. `rfc862.tcp.echo-all-received`.
    pub id: String,
    /// What is required, in our words.
    pub text: String,
    /// Where it comes from.
    pub source: String,
    /// Case ids or globs (`*` and `?`) that check it; empty means no case yet.
    pub cases: Vec<String>,
    /// 1-based line of its `id`.
    pub line: usize,
}

/// A parsed registry.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    /// The file it came from.
    pub file: String,
    /// The requirements, in file order.
    pub items: Vec<Requirement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    requirement: Vec<RawRequirement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequirement {
    id: Spanned<String>,
    text: String,
    source: String,
    cases: Vec<Spanned<String>>,
}

/// Whether `id` matches `pattern`, where `*` matches any run of characters and `?` one character.
pub fn glob_match(pattern: &str, id: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = id.chars().collect();
    go(&p, &s)
}

impl Requirements {
    /// The registry compiled into this crate.
    pub fn embedded() -> Result<Requirements, SpecError> {
        Requirements::parse(REQUIREMENTS_FILE, crate::EMBEDDED_REQUIREMENTS)
    }

    /// `DIR/requirements.toml`, or `None` when the directory has none.
    pub fn load_dir(dir: &Path) -> Result<Option<Requirements>, SpecError> {
        let path = dir.join(REQUIREMENTS_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Io {
            path: path.clone(),
            source,
        })?;
        Requirements::parse(&path.display().to_string(), &text).map(Some)
    }

    /// Parses a registry's text; errors name the file, line and column.
    pub fn parse(file: &str, text: &str) -> Result<Requirements, SpecError> {
        let raw: RawRegistry =
            toml::from_str(text).map_err(|e| crate::error::syntax(file, text, &e))?;
        let mut items: Vec<Requirement> = Vec::new();
        for r in raw.requirement {
            let (line, column) = line_col(text, r.id.span().start);
            let id = r.id.get_ref().clone();
            if let Some(first) = items.iter().find(|x| x.id == id) {
                return Err(SpecError::Syntax {
                    file: file.to_string(),
                    line,
                    column,
                    message: format!(
                        "duplicate requirement id `{id}` (first on line {})",
                        first.line
                    ),
                });
            }
            items.push(Requirement {
                id,
                text: r.text,
                source: r.source,
                cases: r.cases.iter().map(|c| c.get_ref().clone()).collect(),
                line,
            });
        }
        Ok(Requirements {
            file: file.to_string(),
            items,
        })
    }

    /// The cases of `spec` a requirement's patterns select, in spec order.
    pub fn cases_of<'a>(&self, req: &Requirement, spec: &'a Spec) -> Vec<&'a str> {
        spec.cases
            .iter()
            .filter(|c| req.cases.iter().any(|p| glob_match(p, &c.id)))
            .map(|c| c.id.as_str())
            .collect()
    }

    /// Checks that every case pattern matches at least one case of `spec`.
    pub fn check(&self, spec: &Spec) -> Result<(), SpecError> {
        for r in &self.items {
            for p in &r.cases {
                if !spec.cases.iter().any(|c| glob_match(p, &c.id)) {
                    return Err(SpecError::Syntax {
                        file: self.file.clone(),
                        line: r.line,
                        column: 1,
                        message: format!(
                            "requirement `{}`: cases: `{p}` matches no case id (see `echo-conform list`)",
                            r.id
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Cases of `spec` that no requirement selects.
    pub fn uncovered<'a>(&self, spec: &'a Spec) -> Vec<&'a str> {
        spec.cases
            .iter()
            .filter(|c| {
                !self
                    .items
                    .iter()
                    .any(|r| r.cases.iter().any(|p| glob_match(p, &c.id)))
            })
            .map(|c| c.id.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("echo.*", "echo.text.short"));
        assert!(glob_match("echo.stream.?mib", "echo.stream.1mib"));
        assert!(!glob_match("echo.stream.?mib", "echo.stream.16mib"));
        assert!(!glob_match("priv.*", "echo.text.short"));
        assert!(glob_match("a", "a"));
    }

    #[test]
    fn the_embedded_registry_matches_the_embedded_spec() {
        let spec = Spec::embedded().expect("spec");
        let reg = Requirements::embedded().expect("registry");
        reg.check(&spec).expect("every pattern matches a case");
        assert!(reg.items.iter().any(|r| r.cases.is_empty()));
    }

    #[test]
    fn a_pattern_matching_nothing_names_file_and_line() {
        let spec = Spec::embedded().expect("spec");
        let text = "[[requirement]]\nid = \"a\"\ntext = \"t\"\nsource = \"s\"\ncases = [\"echo.*\"]\n\n[[requirement]]\nid = \"b\"\ntext = \"t\"\nsource = \"s\"\ncases = [\"nope.*\"]\n";
        let reg = Requirements::parse("r.toml", text).expect("parses");
        let e = reg.check(&spec).unwrap_err().to_string();
        assert_eq!(
            e,
            "r.toml:8:1: requirement `b`: cases: `nope.*` matches no case id (see `echo-conform list`)"
        );
        let e = Requirements::parse("r.toml", "[[requirement]]\nid = \"a\"\nwhat = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("r.toml:3:1: unknown field `what`"), "{e}");
    }
}
