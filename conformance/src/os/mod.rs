//! Operating-system specifics: process groups, signals and `/proc`.

pub mod groups;
pub mod procs;
