//! A private network namespace for the launched servers, so the privileged port is always free and
//! parallel runs never collide.
//!
//! Namespaces belong to threads: [`enter_private`] must run at the very start of `main`, before any
//! thread exists (the signal-handling thread is started later, in `cli`), so every thread the runner
//! starts afterwards, its clients included, and every server it launches live in the new namespace.

use std::sync::OnceLock;

static STATUS: OnceLock<String> = OnceLock::new();

/// What happened to the network namespace, for the report (`private …` or `host …` with the reason).
pub fn status() -> String {
    STATUS
        .get()
        .cloned()
        .unwrap_or_else(|| "host (not requested)".into())
}

/// True when the runner lives in a namespace of its own.
pub fn is_private() -> bool {
    status().starts_with("private")
}

/// Unshares a new network namespace and brings `lo` up, when `wanted`, running as root, and still
/// single-threaded. Never fails: on any problem the runner stays in its namespace and the reason
/// is recorded in [`status`].
pub fn enter_private(wanted: bool) {
    let status = if !wanted {
        "host (--no-netns)".to_string()
    } else if !nix::unistd::geteuid().is_root() {
        "host (the runner is not root)".to_string()
    } else if threads() != Some(1) {
        "host (threads already exist, so a namespace would not cover them)".to_string()
    } else {
        match unshare_with_loopback() {
            Ok(()) => "private (unshared at start, lo up)".to_string(),
            Err(e) => format!("host ({e})"),
        }
    };
    let _ = STATUS.set(status);
}

fn threads() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

fn unshare_with_loopback() -> Result<(), String> {
    use nix::sched::{setns, unshare, CloneFlags};
    let original = std::fs::File::open("/proc/self/ns/net")
        .map_err(|e| format!("cannot open /proc/self/ns/net: {e}"))?;
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET) failed: {e}"))?;
    if let Err(e) = loopback_up() {
        // Without loopback nothing could connect; go back rather than run blind.
        let back = setns(&original, CloneFlags::CLONE_NEWNET);
        return Err(format!(
            "bringing lo up in the new namespace failed ({e}); {}",
            if back.is_ok() {
                "returned to the original namespace"
            } else {
                "and returning to the original namespace failed too"
            }
        ));
    }
    Ok(())
}

/// `ip link set lo up`, done with SIOCGIFFLAGS/SIOCSIFFLAGS.
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: a plain socket(2) call; the descriptor is owned and closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq naming `lo`; the kernel fills or reads `ifru_flags` only.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    result
}
