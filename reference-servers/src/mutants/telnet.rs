//! A mutant with a telnet habit: it treats 0xff as the telnet IAC byte and un-escapes the pair
//! 0xff 0xff into one 0xff, as a server built on a telnet line discipline would. No scripted case
//! sends a run of 0xff bytes; the generated all-0xff payloads of the property cases do.

use std::io::Write;
use std::net::{Shutdown, TcpStream};

use super::{serve_threaded, Flags, Mutant};
use crate::session::read_some;

/// The telnet mutant.
pub fn mutants() -> Vec<Mutant> {
    vec![Mutant {
        name: "telnet-iac",
        case: "property.stream.one-connection",
        defect:
            "treats 0xff as telnet IAC: each pair 0xff 0xff within a read is echoed as one 0xff",
        run: telnet_iac,
    }]
}

fn telnet_iac(flags: &Flags) -> anyhow::Result<()> {
    serve_threaded(flags, "telnet-iac", unescape_iac)
}

/// A stream echo that drops the second byte of every 0xff 0xff pair it reads, and ends with a FIN
/// after the client's FIN.
fn unescape_iac(mut stream: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    while let Ok(Some(n)) = read_some(&mut stream, &mut buf) {
        if n == 0 {
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        out.clear();
        let mut i = 0;
        while i < n {
            out.push(buf[i]);
            let pair = buf[i] == 0xff && i + 1 < n && buf[i + 1] == 0xff;
            i += if pair { 2 } else { 1 };
        }
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}
