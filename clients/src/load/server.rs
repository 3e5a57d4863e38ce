//! The server under load, read from `/proc` without any dependency: CPU time and resident memory
//! summed over its process group.

/// (CPU seconds, resident KiB) of every process in group `pgid`; (0, None) when none is readable.
pub(super) fn usage(pgid: i32) -> (f64, Option<u64>) {
    let ticks = ticks_per_second();
    let mut cpu = 0.0;
    let mut rss = None;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return (0.0, None);
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) start at the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is the state (field 3): pgrp is field 5, utime 14, stime 15.
        if f.get(2).and_then(|g| g.parse::<i32>().ok()) != Some(pgid) {
            continue;
        }
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        cpu += (t(11) + t(12)) / ticks;
        if let Some(kib) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        {
            *rss.get_or_insert(0) += kib;
        }
    }
    (cpu, rss)
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}
