//! Talking to running workers: commands in, probe answers out, jobs run on a worker's fabric.
//!
//! Each worker drains its command queue once per loop iteration (a command also wakes a
//! sleeping worker). A probe command makes an instance send a ping or traceroute datagram; the
//! worker remembers it and, when that instance's application is handed a frame that answers it,
//! sends the answer and the round-trip time back on the command's reply channel. RTTs are taken
//! on the engine's clock, between the send and the delivery of the answer.

use std::net::Ipv4Addr;
use std::sync::mpsc::Sender;
use std::time::Duration;

use super::worker::WorkerEnv;
use crate::fabric::Fabric;
use crate::probe::{Answer, Probe};
use crate::time::Instant;

/// The answer to a probe and its round-trip time.
pub(crate) type ProbeResult = (Answer, Duration);

/// What a worker can be told to do.
pub(crate) enum Command {
    /// Send `probe` from the instance with local index `node` to `dst`, with `ttl` or, if `None`,
    /// the instance's default TTL.
    Probe {
        node: u32,
        dst: Ipv4Addr,
        probe: Probe,
        ttl: Option<u8>,
        reply: Sender<ProbeResult>,
    },
    /// Start or stop the hosts' flow generators.
    Flows(bool),
    /// Run a job on the worker's fabric (inspection and changes of a running network; see
    /// `live.rs`).
    Run(Job),
}

/// Work for a worker, run between two loop iterations with its whole fabric at hand; it sends
/// its own answer.
pub(crate) type Job = Box<dyn FnOnce(&mut Fabric<WorkerEnv>) + Send>;

/// A probe waiting for its answer.
pub(crate) struct Pending {
    pub node: u32,
    pub probe: Probe,
    pub sent: Instant,
    pub reply: Sender<ProbeResult>,
}

/// How long an unanswered probe is remembered.
pub(crate) const PROBE_MEMORY: Duration = Duration::from_secs(30);
