//! Credentials of every task of the server, read from `/proc/PID/task/TID/status` and parsed with
//! `procfs`, keeping the raw text so evidence can quote the exact line.

use procfs::process::{Process, Status};
use procfs::FromBufRead;

/// One task's status file: where it came from, its text, and its parsed fields.
#[derive(Debug, Clone)]
pub struct TaskStatus {
    /// The process.
    pub pid: i32,
    /// The task (thread); equal to `pid` for the main thread.
    pub tid: i32,
    /// The raw text of the status file.
    pub text: String,
    /// The parsed fields.
    pub status: Status,
}

impl TaskStatus {
    /// The raw line starting with `key:` (for example `Uid`), or a note that the kernel has none.
    pub fn line(&self, key: &str) -> String {
        let prefix = format!("{key}:");
        self.text
            .lines()
            .find(|l| l.starts_with(&prefix))
            .map_or_else(
                || format!("{prefix} (absent from this kernel's status file)"),
                str::to_string,
            )
    }

    /// The line `key` quoted as evidence: `pid 12 tid 14 /proc/12/task/14/status: Uid:\t0\t…`.
    pub fn quote(&self, key: &str) -> String {
        format!(
            "pid {} tid {} /proc/{}/task/{}/status: {}",
            self.pid,
            self.tid,
            self.pid,
            self.tid,
            self.line(key)
        )
    }

    /// The four uid fields: real, effective, saved, filesystem.
    pub fn uids(&self) -> [u32; 4] {
        let s = &self.status;
        [s.ruid, s.euid, s.suid, s.fuid]
    }

    /// The four gid fields: real, effective, saved, filesystem.
    pub fn gids(&self) -> [u32; 4] {
        let s = &self.status;
        [s.rgid, s.egid, s.sgid, s.fgid]
    }

    /// CapPrm, CapEff and CapAmb (0 when the kernel has no ambient set).
    pub fn caps(&self) -> [(&'static str, u64); 3] {
        let s = &self.status;
        [
            ("CapPrm", s.capprm),
            ("CapEff", s.capeff),
            ("CapAmb", s.capamb.unwrap_or(0)),
        ]
    }
}

/// Reads one task's status.
pub fn read_task(pid: i32, tid: i32) -> Result<TaskStatus, String> {
    let path = format!("/proc/{pid}/task/{tid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let status =
        Status::from_buf_read(text.as_bytes()).map_err(|e| format!("cannot parse {path}: {e}"))?;
    Ok(TaskStatus {
        pid,
        tid,
        text,
        status,
    })
}

/// Every task of every process in `pids`, in pid then tid order. Tasks that vanish while being read
/// are left out; a process whose task list cannot be read is an error.
pub fn tasks_of(pids: &[i32]) -> Result<Vec<TaskStatus>, String> {
    let mut out = Vec::new();
    let mut pids = pids.to_vec();
    pids.sort_unstable();
    for pid in pids {
        let Ok(process) = Process::new(pid) else {
            continue; // exited since it was listed
        };
        let tasks = process
            .tasks()
            .map_err(|e| format!("cannot list /proc/{pid}/task: {e}"))?;
        let mut tids: Vec<i32> = tasks.flatten().map(|t| t.tid).collect();
        tids.sort_unstable();
        for tid in tids {
            if let Ok(t) = read_task(pid, tid) {
                out.push(t);
            }
        }
    }
    Ok(out)
}
