//! The pool that runs `echo-conform` judgements side by side, two per CPU, under one machine lock,
//! and runs again alone any judgement that went the wrong way beside others.

use crate::LOCK_ENV;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `echo-conform` invocations side by side, two per CPU, under one machine lock.
pub struct Pool {
    conform: PathBuf,
    lock: PathBuf,
    jobs: usize,
}

impl Pool {
    /// A pool running `conform`, sharing the machine lock already held (a CI step beside others)
    /// or one of its own under `target/mutants/`.
    pub fn new(conform: &Path) -> anyhow::Result<Self> {
        let dir = crate::target_dir().join("mutants");
        std::fs::create_dir_all(&dir)?;
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Self {
            conform: conform.to_path_buf(),
            // Under a machine lock already (a CI step beside others), share it.
            lock: std::env::var_os(LOCK_ENV)
                .map_or_else(|| dir.join(".machine.lock"), PathBuf::from),
            jobs: 2 * cpus,
        })
    }

    /// Runs every argument list of `runs` and judges each output with `ok`; a run judged not ok
    /// beside others runs again with nothing else running, and that run decides. Returns, in
    /// order, whether each was ok and whether it was judged alone.
    pub fn judge(
        &self,
        runs: &[Vec<String>],
        ok: impl Fn(usize, &Output) -> bool + Sync,
    ) -> anyhow::Result<Vec<(bool, bool)>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<std::io::Result<Output>>>> =
            Mutex::new((0..runs.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..self.jobs.min(runs.len()) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(a) = runs.get(i) else { break };
                    let out = self.command(a, true).output();
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(out);
                    }
                });
            }
        });
        let results = results
            .into_inner()
            .map_err(|_| anyhow::anyhow!("a run's thread panicked"))?;
        let mut judged = Vec::with_capacity(runs.len());
        for (i, out) in results.into_iter().enumerate() {
            let out = out.ok_or_else(|| anyhow::anyhow!("run {i} never ran"))??;
            if ok(i, &out) {
                judged.push((true, false));
            } else {
                let again = self.command(&runs[i], false).output()?;
                judged.push((ok(i, &again), true));
            }
        }
        Ok(judged)
    }

    /// The `echo-conform` command of one run, under the shared lock when `beside_others`.
    fn command(&self, args: &[String], beside_others: bool) -> Command {
        let mut c = Command::new(&self.conform);
        c.args(args).stdin(Stdio::null()).stderr(Stdio::null());
        if beside_others {
            c.env(LOCK_ENV, &self.lock);
        } else {
            c.env_remove(LOCK_ENV);
        }
        c
    }
}
