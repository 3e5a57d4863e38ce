//! Privilege mutants: each binds port 7 (by default) as root and drops to nobody/nogroup with
//! umask 007 — except for one classic mistake — then serves a correct thread-per-connection
//! stream echo. None verifies its drop: not noticing is part of each defect.

use std::collections::HashMap;
use std::net::TcpListener;

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::waitpid;
use nix::unistd::{self, fork, ForkResult, Pid};

use super::{announce, bind, stream_echo, thread_per_connection, Flags, Mutant};
use crate::privilege::{resolve, switch_ids, GroupChoice, Plan, Target, DEFAULT_UMASK};
use crate::shutdown;

/// The privilege mutants.
pub fn mutants() -> Vec<Mutant> {
    vec![
        Mutant { name: "setuid-before-setgid", case: "priv.gid.all-four", defect: "calls setuid(nobody) before setgid(nogroup); the setgid fails with EPERM, is ignored, and gid stays 0", run: setuid_before_setgid },
        Mutant { name: "no-setgroups", case: "priv.groups.subset", defect: "forgets setgroups: the launcher's supplementary groups are kept", run: no_setgroups },
        Mutant { name: "seteuid-only", case: "priv.uid.all-four", defect: "only setegid/seteuid: real and saved uid and gid stay 0", run: seteuid_only },
        Mutant { name: "umask-decimal", case: "priv.umask", defect: "umask(77) in decimal (0o115) instead of 0o007", run: umask_decimal },
        Mutant { name: "one-thread-drop", case: "priv.tree.all-tasks", defect: "starts a helper thread, then drops with raw per-thread syscalls on the main thread only", run: one_thread_drop },
        Mutant { name: "root-master", case: "priv.tree.all-tasks", defect: "pre-fork: only the workers drop; the master stays root", run: root_master },
        Mutant { name: "escape-setsid-root", case: "priv.tree.all-tasks", defect: "forks a helper before the drop; the helper calls setsid() (leaving the process group) and stays root while the server drops and serves", run: escape_setsid_root },
        Mutant { name: "bind-after-drop", case: "priv.listen.bound-by-root", defect: "drops first, then binds: EACCES on port 7, or a listener not owned by root", run: bind_after_drop },
        Mutant { name: "udp-root-helper", case: "priv.udp.bound-by-root", defect: "serves TCP and UDP: the main process drops, but a forked helper keeps root and the UDP socket to answer datagrams", run: udp_root_helper },
        Mutant { name: "ignore-failure", case: "priv.no-regain", defect: "seteuid(nobody) first, then setgroups/setgid/setuid with results ignored: they fail or change only the effective ids; real and saved uid and every gid stay 0", run: ignore_failure },
    ]
}

/// The port a privilege mutant binds when `--port` is not given.
const PORT: u16 = 7;

fn target() -> anyhow::Result<Target> {
    resolve(&Plan {
        user: "nobody".into(),
        group: GroupChoice::NamedOrPrimary("nogroup".into()),
        umask: DEFAULT_UMASK,
    })
}

/// Resolve, bind, run the (broken) `drop`, announce, serve.
fn bind_drop_serve(
    flags: &Flags,
    name: &str,
    drop: impl FnOnce(&Target) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let t = target()?;
    let listener = bind(flags, Some(PORT))?;
    drop(&t)?;
    announce(name, &listener)?;
    thread_per_connection(&listener, stream_echo)
}

fn setuid_before_setgid(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "setuid-before-setgid", |t| {
        unistd::setgroups(&[]).context("setgroups")?;
        unistd::setuid(t.uid).context("setuid")?;
        let _ = unistd::setgid(t.gid); // EPERM now, and ignored.
        umask(DEFAULT_UMASK);
        Ok(())
    })
}

fn no_setgroups(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "no-setgroups", |t| {
        unistd::setresgid(t.gid, t.gid, t.gid).context("setresgid")?;
        unistd::setresuid(t.uid, t.uid, t.uid).context("setresuid")?;
        umask(DEFAULT_UMASK);
        Ok(())
    })
}

fn seteuid_only(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "seteuid-only", |t| {
        unistd::setgroups(&[]).context("setgroups")?;
        unistd::setegid(t.gid).context("setegid")?;
        unistd::seteuid(t.uid).context("seteuid")?;
        umask(DEFAULT_UMASK);
        Ok(())
    })
}

fn umask_decimal(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "umask-decimal", |t| {
        switch_ids(t)?;
        umask(Mode::from_bits_truncate(77)); // Meant as octal 077; decimal 77 is 0o115.
        Ok(())
    })
}

fn one_thread_drop(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "one-thread-drop", |t| {
        // A helper thread started before the drop, e.g. for logging; it keeps root.
        std::thread::Builder::new()
            .name("helper".into())
            .spawn(shutdown::wait_for_stop)
            .context("spawning the helper thread")?;
        let (u, g) = (t.uid.as_raw(), t.gid.as_raw());
        // SAFETY: raw credential syscalls with plain integer arguments; a null list with length
        // 0 is valid for setgroups. They change the calling thread only: that is the defect.
        unsafe {
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>());
            libc::syscall(libc::SYS_setresgid, g, g, g);
            libc::syscall(libc::SYS_setresuid, u, u, u);
        }
        umask(DEFAULT_UMASK);
        Ok(())
    })
}

fn escape_setsid_root(flags: &Flags) -> anyhow::Result<()> {
    let t = target()?;
    let listener = bind(flags, Some(PORT))?;
    // SAFETY: single-threaded here; the child only calls async-signal-safe functions and sleeps.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            // The defect: a root helper in a session (and process group) of its own.
            let _ = unistd::setsid();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        ForkResult::Parent { .. } => {}
    }
    crate::privilege::drop_privileges(&t)?;
    announce("escape-setsid-root", &listener)?;
    thread_per_connection(&listener, stream_echo)
}

/// Workers of the root-master mutant.
const WORKERS: usize = 2;

fn root_master(flags: &Flags) -> anyhow::Result<()> {
    let t = target()?;
    let listener = bind(flags, Some(PORT))?;
    umask(DEFAULT_UMASK);
    let mut workers = HashMap::new();
    for slot in 0..WORKERS {
        // SAFETY: the master is single-threaded here.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Parent { child } => {
                workers.insert(child, slot);
            }
            ForkResult::Child => std::process::exit(root_master_worker(&t, &listener)),
        }
    }
    announce("root-master", &listener)?;
    // The defect: the master keeps uid 0 (and the listener) while it supervises.
    shutdown::wait_for_stop();
    for pid in workers.keys() {
        let _ = kill(*pid, Signal::SIGTERM);
    }
    for pid in workers.keys() {
        let _ = waitpid(Pid::from_raw(pid.as_raw()), None);
    }
    Ok(())
}

fn root_master_worker(t: &Target, listener: &TcpListener) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    if switch_ids(t).is_err() {
        return 78;
    }
    match thread_per_connection(listener, stream_echo) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn udp_root_helper(flags: &Flags) -> anyhow::Result<()> {
    let t = target()?;
    let listener = bind(flags, Some(PORT))?;
    let port = listener.local_addr()?.port();
    let socket = crate::udp::bind(std::net::SocketAddr::new(flags.bind, port))?;
    // SAFETY: the process is single-threaded here.
    let helper = match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
            drop(listener);
            // The defect: the helper answers datagrams as root, holding the UDP socket.
            std::process::exit(match crate::udp::serve_blocking(&socket) {
                Ok(()) => 0,
                Err(_) => 1,
            });
        }
        ForkResult::Parent { child } => child,
    };
    drop(socket);
    crate::privilege::drop_privileges(&t)?;
    announce("udp-root-helper", &listener)?;
    let served = thread_per_connection(&listener, stream_echo);
    let _ = kill(helper, Signal::SIGTERM);
    let _ = waitpid(helper, None);
    served
}

fn bind_after_drop(flags: &Flags) -> anyhow::Result<()> {
    let t = target()?;
    if unistd::geteuid().is_root() {
        switch_ids(&t)?;
        umask(DEFAULT_UMASK);
    }
    // The defect: binding only now, as nobody.
    let listener = bind(flags, Some(PORT))?;
    announce("bind-after-drop", &listener)?;
    thread_per_connection(&listener, stream_echo)
}

fn ignore_failure(flags: &Flags) -> anyhow::Result<()> {
    bind_drop_serve(flags, "ignore-failure", |t| {
        // Deterministic as root: a "temporary" seteuid first takes away CAP_SETGID/CAP_SETUID,
        // so setgroups and setgid then fail with EPERM and setuid changes only the effective
        // uid. Every result is ignored, so the server serves with uid 0 in the real and saved
        // fields (and gid 0 everywhere), from where setuid(0) would succeed.
        let _ = unistd::seteuid(t.uid);
        let _ = unistd::setgroups(&[]);
        let _ = unistd::setgid(t.gid);
        let _ = unistd::setuid(t.uid);
        umask(DEFAULT_UMASK);
        Ok(())
    })
}
