//! A barrier for concurrent clients that cannot deadlock: a client that fails or finishes
//! "departs", and a wait has a deadline.

use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Releases waiters once every client has arrived or departed.
#[derive(Debug)]
pub struct Rendezvous {
    clients: usize,
    state: Mutex<State>,
    cond: Condvar,
}

#[derive(Debug, Default)]
struct State {
    waiting: usize,
    departed: usize,
    generation: u64,
}

impl Rendezvous {
    /// A barrier for `clients` clients.
    pub fn new(clients: usize) -> Self {
        Rendezvous {
            clients,
            state: Mutex::new(State::default()),
            cond: Condvar::new(),
        }
    }

    /// Waits for the others until `deadline`; false on timeout.
    pub fn wait(&self, deadline: Instant) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.waiting += 1;
        if st.waiting + st.departed >= self.clients {
            st.waiting = 0;
            st.generation += 1;
            self.cond.notify_all();
            return true;
        }
        let gen = st.generation;
        while st.generation == gen {
            let now = Instant::now();
            if now >= deadline {
                st.waiting -= 1;
                return false;
            }
            st = self
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Marks a client as gone for good (finished or failed), so it no longer holds the others up.
    pub fn depart(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.departed += 1;
        if st.waiting > 0 && st.waiting + st.departed >= self.clients {
            st.waiting = 0;
            st.generation += 1;
            self.cond.notify_all();
        }
    }
}
