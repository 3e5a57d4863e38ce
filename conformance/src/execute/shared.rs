//! The shared instance: one launched server that many cases use, `--jobs` at a time on a
//! concurrent server, relaunched when it dies. Each generation of it is numbered, so attribution
//! knows which cases ran against the instance that died.

use super::steps::{run_steps, script_config};
use super::{Death, Instance, Ran};
use crate::events::{Attempt, Event, Sink};
use crate::grade::{self, ServerFate};
use crate::notes::ServerProblem;
use crate::plan::{Plan, Planned, Target};
use crate::server::{describe, ending, LaunchError, Server};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The shared instance and the cases running against it.
pub struct Shared {
    state: Mutex<State>,
    /// True while fresh instances run cases at the same time as this one's.
    fresh_beside: AtomicBool,
}

struct State {
    server: Option<Server>,
    generation: u64,
    running: Vec<String>,
    /// How many cases have started on this generation.
    started: usize,
}

impl Shared {
    /// A first launch proves the command works at all; its failure is the run's failure (exit 3).
    pub fn start(plan: &Plan) -> Result<Shared, LaunchError> {
        let server = match &plan.target {
            Target::Launch(spec) => Some(Server::launch(spec)?),
            Target::Addr(_) => None,
        };
        Ok(Shared {
            state: Mutex::new(State {
                server,
                generation: 1,
                running: Vec::new(),
                started: 0,
            }),
            fresh_beside: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs case `idx` on the shared instance, relaunching it first if it died.
    pub fn run(&self, plan: &Plan, idx: usize, sink: Sink<'_>) -> Ran {
        let p = &plan.cases[idx];
        let started = Instant::now();
        let (addr, generation) = match self.address(plan, p, sink) {
            Ok(found) => found,
            Err(problem) => {
                let msg = problem.to_string();
                let v = grade::decide(p, Default::default(), ServerFate::LaunchFailed(msg));
                return Ran {
                    idx,
                    verdict: v,
                    death: None,
                    instance: Instance::Shared {
                        generation: 0,
                        alone: false,
                    },
                    started,
                    ended: Instant::now(),
                    launch_problem: Some(problem),
                };
            }
        };
        sink(Event::CaseStarted {
            id: p.id(),
            attempt: Attempt::Scheduled,
        });
        let cfg = script_config(&p.case, p.at(addr), &plan.transform, plan.time_scale);
        let outcome = run_steps(&p.case, &cfg, None, plan.regressions.as_deref());
        let settle = if outcome.failure.is_some() {
            super::fresh::DEATH_SETTLE
        } else {
            Duration::ZERO
        };
        let (fate, death, alone) = self.finished(p, generation, settle, sink);
        Ran {
            idx,
            verdict: grade::decide(p, outcome, fate),
            death,
            instance: Instance::Shared { generation, alone },
            started,
            ended: Instant::now(),
            launch_problem: None,
        }
    }

    /// Where to connect, and the generation of the instance there.
    fn address(
        &self,
        plan: &Plan,
        p: &Planned,
        sink: Sink<'_>,
    ) -> Result<(SocketAddr, u64), ServerProblem> {
        let mut st = self.lock();
        let spec = match &plan.target {
            Target::Addr(addr) => {
                // A server reached by address is never relaunched: one generation.
                st.running.push(p.id());
                st.started += 1;
                return Ok((*addr, st.generation));
            }
            Target::Launch(spec) => spec,
        };
        if st.server.is_none() {
            let s = Server::launch(spec).map_err(|e| ServerProblem::NotStarted {
                case: p.id(),
                why: e.to_string(),
                relaunch: true,
            })?;
            st.server = Some(s);
            st.generation += 1;
            st.started = 0;
            sink(Event::Relaunched {
                reason: "the previous instance died".into(),
            });
        }
        st.running.push(p.id());
        st.started += 1;
        let addr = st
            .server
            .as_ref()
            .map(|s| s.addr)
            .ok_or_else(|| ServerProblem::NotStarted {
                case: p.id(),
                why: "no instance is running".into(),
                relaunch: true,
            })?;
        Ok((addr, st.generation))
    }

    /// Records that case `p` ended on `generation`: whether the server died under it, and whether
    /// the case had that generation to itself.
    fn finished(
        &self,
        p: &Planned,
        generation: u64,
        settle: Duration,
        sink: Sink<'_>,
    ) -> (ServerFate, Option<Death>, bool) {
        let mut st = self.lock();
        let during = st.running.clone();
        if let Some(i) = st.running.iter().position(|id| *id == p.id()) {
            st.running.remove(i);
        }
        if st.generation != generation {
            return (ServerFate::Fine, None, false);
        }
        // Alone only when first on its generation, with no other case started on it, and no
        // fresh instance busy beside it.
        let alone = st.started == 1 && !self.fresh_beside.load(Ordering::SeqCst);
        let Some(server) = st.server.as_mut() else {
            return (ServerFate::Fine, None, alone);
        };
        let Some(status) = server.exit_within(settle) else {
            return (ServerFate::Fine, None, alone);
        };
        let fate = ServerFate::Died {
            status: describe(status),
            ending: ending(status),
            tail: server.final_output(),
        };
        sink(Event::ServerDied {
            status: describe(status),
            during,
        });
        st.server = None;
        (fate, Some(Death::of(status, p.claimed)), alone)
    }

    /// Says whether fresh instances run cases beside this one's from now on.
    pub fn fresh_beside(&self, yes: bool) {
        self.fresh_beside.store(yes, Ordering::SeqCst);
    }

    /// Stops the shared instance.
    pub fn stop(self) {
        drop(self.lock().server.take());
    }
}
