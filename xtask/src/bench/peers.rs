//! The native-code and minimal peers set beside the models: a C epoll echo (`peers/epoll_echo.c`,
//! compiled here with `cc -O2`) and the minimal tokio echo (`echo-peer-tokio`). A peer that cannot
//! be had is skipped with the reason, printed.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C peer's source, embedded so the bench needs nothing but a C compiler.
const C_EPOLL: &str = include_str!("peers/epoll_echo.c");

/// Compiles the C epoll echo into `out_dir`; `Err` says why it is skipped.
pub fn c_epoll(out_dir: &Path) -> Result<PathBuf, String> {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let src = out_dir.join("epoll_echo.c");
    let bin = out_dir.join("epoll_echo");
    std::fs::write(&src, C_EPOLL).map_err(|e| format!("cannot write {}: {e}", src.display()))?;
    let out = Command::new(&cc)
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .map_err(|e| {
            format!("no C compiler (`{cc}`: {e}); install one (apt-get install gcc) or set CC")
        })?;
    if !out.status.success() {
        return Err(format!(
            "`{cc}` could not compile {}: {}",
            src.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}
