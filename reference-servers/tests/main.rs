//! The integration tests of `echo-servers`: the built `echo-server` and `echo-mutant` binaries,
//! started on loopback ports, checked from real sockets.
//!
//! Every socket has a timeout and every started server is killed and reaped when its guard
//! drops, even when a test panics.

mod udp;
mod util;
