//! What a run says about the server beyond its cases, as typed values: the problems that make it
//! exit 3 ([`ServerProblem`]) and the facts that belong to no single case ([`RunNote`]). The
//! reporters render them with `Display`; the JSON report writes each as its fields, a `kind`, and
//! `text`, the line the human report prints.

use serde::{Serialize, Serializer};
use std::fmt;

/// A problem with the server process itself. Any of them makes the run exit 3, whatever its cases
/// say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServerProblem {
    /// An instance launched for `case` did not start, or was not ready in time.
    NotStarted {
        /// The case the instance was for.
        case: String,
        /// Why, as the launcher saw it.
        why: String,
        /// True when it was the shared instance, launched again after a death.
        relaunch: bool,
    },
    /// The server crashed during `case`, on an instance of its own or when `case` ran again alone.
    Crashed {
        /// The case that crashes it.
        case: String,
        /// How it ended (a signal, or an exit status).
        status: String,
        /// True when the crash was reproduced by running the case again alone.
        alone: bool,
    },
    /// Two cases together crash the server; neither does alone.
    CrashedTogether {
        /// The two cases.
        cases: [String; 2],
        /// How it ended.
        status: String,
    },
    /// The server crashed while `cases` ran together, and neither one of them alone nor (when
    /// there were several) any pair of them crashes it again.
    CrashedUnexplained {
        /// The cases in flight when the death was seen.
        cases: Vec<String>,
        /// How it ended.
        status: String,
    },
}

impl fmt::Display for ServerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerProblem::NotStarted {
                case,
                why,
                relaunch: false,
            } => write!(f, "launch for `{case}` failed: {why}"),
            ServerProblem::NotStarted {
                case,
                why,
                relaunch: true,
            } => write!(f, "relaunch before `{case}` failed: {why}"),
            ServerProblem::Crashed {
                case,
                status,
                alone,
            } => {
                write!(f, "`{case}`: the server {status}")?;
                if *alone {
                    f.write_str(" (reproduced alone)")?;
                }
                Ok(())
            }
            ServerProblem::CrashedTogether { cases, status } => write!(
                f,
                "`{}` and `{}` together: the server {status}; neither kills it alone",
                cases[0], cases[1]
            ),
            ServerProblem::CrashedUnexplained { cases, status } => {
                let names: Vec<String> = cases.iter().map(|c| format!("`{c}`")).collect();
                write!(
                    f,
                    "the server {status} while {} ran together; none kills it alone{}",
                    names.join(", "),
                    if cases.len() > 1 {
                        ", and no pair of them does"
                    } else {
                        ""
                    }
                )
            }
        }
    }
}

/// A fact of the run that belongs to no single case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RunNote {
    /// The launched process exited and left processes of its own running: the run judged those
    /// as the server (a server that daemonizes).
    Daemonized {
        /// The launched process.
        pid: i32,
        /// How it ended.
        status: String,
        /// How many of its processes were left.
        left: usize,
        /// The first of them.
        first: i32,
        /// That process's command name.
        comm: String,
    },
    /// A process left the server's process group (by `setsid` or `setpgid`) and was found and
    /// ended all the same.
    LeftGroup {
        /// The process.
        pid: i32,
        /// Its command name.
        comm: String,
        /// The leader of the server's group.
        server: i32,
        /// How it left.
        how: String,
    },
}

impl fmt::Display for RunNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunNote::Daemonized {
                pid,
                status,
                left,
                first,
                comm,
            } => write!(
                f,
                "the launched process (pid {pid}) {status} and left {left} process(es) of it running \
                 (pid {first}: {comm}); the run judged those as the server"
            ),
            RunNote::LeftGroup {
                pid,
                comm,
                server,
                how,
            } => write!(
                f,
                "pid {pid} ({comm}) left the process group of the server (pid {server}) by {how}; \
                 it was found and ended all the same"
            ),
        }
    }
}

/// A typed value as JSON: its own fields and `kind`, plus `text`, its rendered line.
#[derive(Serialize, schemars::JsonSchema)]
pub struct WithText<T> {
    /// The value's own fields.
    #[serde(flatten)]
    pub value: T,
    /// The line the human report prints for it.
    pub text: String,
}

/// Serializes a list of typed values, each with its `text` (for `serialize_with`).
pub fn with_text<S, T>(items: &[T], s: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + fmt::Display,
{
    s.collect_seq(items.iter().map(|value| WithText {
        value,
        text: value.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_kind_fields_and_the_rendered_line() {
        #[derive(Serialize)]
        struct Holder {
            #[serde(serialize_with = "with_text")]
            problems: Vec<ServerProblem>,
        }
        let h = Holder {
            problems: vec![ServerProblem::Crashed {
                case: "a.b".into(),
                status: "was killed by SIGSEGV".into(),
                alone: true,
            }],
        };
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["problems"][0]["kind"], "crashed");
        assert_eq!(v["problems"][0]["case"], "a.b");
        assert_eq!(
            v["problems"][0]["text"],
            "`a.b`: the server was killed by SIGSEGV (reproduced alone)"
        );
    }

    #[test]
    fn an_unexplained_crash_says_whether_pairs_were_tried() {
        let one = ServerProblem::CrashedUnexplained {
            cases: vec!["x".into()],
            status: "exited with status 1".into(),
        };
        assert!(!one.to_string().contains("pair"));
        let two = ServerProblem::CrashedUnexplained {
            cases: vec!["x".into(), "y".into()],
            status: "exited with status 1".into(),
        };
        assert!(two.to_string().ends_with("and no pair of them does"));
    }
}
