//! Operating-system specifics: process groups, signals, `/proc` and the network namespace.

pub mod groups;
pub mod netns;
pub mod procs;
