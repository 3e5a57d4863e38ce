//! `echo-spec`: the case model of echo-conform, its parser and validator, and the embedded spec.
//!
//! A case is data, not code: each `cases/*.toml` file holds `[[case]]` tables with a stable `id`, a
//! `title`, the `source` of the requirement, a `level`, the profile claims it `requires`, a `kind`
//! and its `steps`. [`Spec::embedded`] returns the spec compiled into the crate; [`Spec::load_dir`]
//! reads another directory. Every error names the file, line, column and field.
//!
//! ```
//! let spec = echo_spec::Spec::embedded().expect("the embedded spec is valid");
//! let case = spec.get("echo.binary.all-bytes").expect("the case exists");
//! assert_eq!(case.level, echo_spec::Level::Must);
//! ```

mod claims;
mod emit;
mod error;
mod model;
mod parse;
mod pool;
mod property;
mod raw;
mod requirements;
mod schema;
mod step;

pub use claims::{Claim, ClaimSet, Dimension, ALL_CLAIMS, POOL_SIZES};
pub use emit::{emit_case, emit_file};
pub use error::SpecError;
pub use model::{
    Case, CaseKind, Chunking, IpFamily, Level, Origin, Payload, PrivCheck, SignalName, Step,
    StepArea, Timeouts, ALL_PRIV_CHECKS, ECHO_COUNTED_TAG, HEAVY_TAG,
};
pub use parse::step_word::emit_step;
pub use parse::{
    parse_file, MAX_BURST_DATAGRAMS, MAX_CLIENTS, MAX_DATAGRAM, MAX_EXPANDED_STEPS, MAX_FILE_BYTES,
    MAX_MS, MAX_PAYLOAD,
};
pub use pool::scaled_to_pool;
pub use property::{
    PropertyOp, PropertyParams, ALL_PROPERTY_OPS, MAX_PROP_CASES, MAX_PROP_CONNECTIONS,
    MAX_PROP_OPS, MAX_PROP_PAYLOAD, MAX_PROP_WAIT_MS,
};
pub use requirements::{glob_match, Requirement, Requirements, REQUIREMENTS_FILE};
pub use schema::json_schema;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// A validated set of cases, in file order.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The cases, sorted by file name, then by position in the file.
    pub cases: Vec<Case>,
}

impl Spec {
    /// The spec compiled into this crate from `spec/cases/`.
    pub fn embedded() -> Result<Spec, SpecError> {
        Spec::from_files(
            EMBEDDED
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string())),
        )
    }

    /// Reads every `*.toml` under `dir` (recursively).
    pub fn load_dir(dir: &Path) -> Result<Spec, SpecError> {
        let mut paths = Vec::new();
        collect(dir, &mut paths)?;
        paths.sort();
        if paths.is_empty() {
            return Err(SpecError::Empty {
                path: dir.to_path_buf(),
            });
        }
        let mut files = Vec::new();
        for path in paths {
            let io = |source| SpecError::Io {
                path: path.clone(),
                source,
            };
            // Read one byte past the limit at most: a huge file is refused, not loaded.
            let mut bytes = Vec::new();
            std::fs::File::open(&path)
                .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
                .map_err(io)?;
            let text = if bytes.len() > MAX_FILE_BYTES {
                String::from_utf8_lossy(&bytes).into_owned() // refused for its size below
            } else {
                String::from_utf8(bytes).map_err(|e| {
                    io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        e.utf8_error(),
                    ))
                })?
            };
            files.push((path.display().to_string(), text));
        }
        Spec::from_files(files)
    }

    /// Parses named texts and checks the rules that span files (unique ids).
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Spec, SpecError> {
        let mut cases = Vec::new();
        let mut seen: HashMap<String, String> = HashMap::new();
        for (name, text) in files {
            for case in parse_file(&name, &text)? {
                let here = format!("{}:{}", case.origin.file, case.origin.line);
                if let Some(first) = seen.insert(case.id.clone(), here) {
                    return Err(SpecError::DuplicateId {
                        file: case.origin.file.clone(),
                        line: case.origin.line,
                        id: case.id.clone(),
                        first,
                    });
                }
                cases.push(case);
            }
        }
        Ok(Spec { cases })
    }

    /// The case with this id.
    pub fn get(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| SpecError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml")
            && !path.ends_with(REQUIREMENTS_FILE)
        {
            out.push(path);
        }
    }
    Ok(())
}
