//! Errors that name the spec file, line and column, and the case and field at fault.

use std::path::PathBuf;

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file is not valid TOML, or does not match the case schema.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The spec file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, as the parser says it.
        message: String,
    },
    /// The file parses but a case breaks a rule (bounds, closed sets, consistency).
    #[error("{file}:{line}:{column}: case `{case}`: {field}: {message}")]
    Invalid {
        /// The spec file.
        file: String,
        /// 1-based line of the offending value.
        line: usize,
        /// 1-based column of the offending value.
        column: usize,
        /// The case id (or `?` when the id itself is at fault).
        case: String,
        /// The field at fault, e.g. `steps[3].send`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// Two cases share an id.
    #[error("{file}:{line}: duplicate case id `{id}` (first defined at {first})")]
    DuplicateId {
        /// The file of the second definition.
        file: String,
        /// Its line.
        line: usize,
        /// The id.
        id: String,
        /// `file:line` of the first definition.
        first: String,
    },
    /// The spec directory or a file in it could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The spec holds no case at all.
    #[error("{path}: no spec files (*.toml) found")]
    Empty {
        /// The directory searched.
        path: PathBuf,
    },
}

/// A TOML syntax or type error in `file` (whose text is `text`), at its line and column.
pub(crate) fn syntax(file: &str, text: &str, e: &toml::de::Error) -> SpecError {
    let at = e.span().map_or(0, |s| s.start);
    let (line, column) = line_col(text, at);
    let message = e.message().trim();
    SpecError::Syntax {
        file: file.to_string(),
        line,
        column,
        message: match key_before(text, at) {
            Some(key) => format!("`{key}`: {message}"),
            None => message.to_string(),
        },
    }
}

/// The key whose value starts at `offset` (`len` in `len = -1`), so that a type error names its
/// field; `None` when the text before the value is not `key =`.
fn key_before(text: &str, offset: usize) -> Option<&str> {
    let before = text.get(..offset)?.trim_end();
    let before = before.strip_suffix('=')?.trim_end();
    let rest = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    Some(&before[rest.len()..]).filter(|k| !k.is_empty())
}

/// Converts a byte offset into a 1-based (line, column) pair.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    #[test]
    fn line_col_counts_from_one() {
        let text = "a\nbc\nd";
        assert_eq!(super::line_col(text, 0), (1, 1));
        assert_eq!(super::line_col(text, 3), (2, 2));
        assert_eq!(super::line_col(text, 5), (3, 1));
    }

    #[test]
    fn key_before_names_the_field_of_a_value() {
        let text = "x = { len = -1 }";
        assert_eq!(super::key_before(text, 12), Some("len"));
        assert_eq!(super::key_before(text, 0), None);
        assert_eq!(super::key_before("[a]\n= 1", 6), None);
    }
}
