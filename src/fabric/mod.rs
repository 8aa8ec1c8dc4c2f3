//! One model of a network, shared by the simulator and the engine.
//!
//! A [`Network`] describes nodes and links before they run. A node ([`Node`]) is one of the
//! kinds of sans-IO instance behind the batch contract; a link has ends (node interfaces), an
//! up/down state, per-direction stages — an impairment ([`crate::shape`]), an observer, and
//! counters ([`EndCounters`]) — and a medium: a frame-handle hand-off within one driver, a
//! shared-memory ring between workers or to another process, a hub, a host device. Both drivers
//! run the same runtime model (`runtime.rs`): the simulator holds the whole network in one
//! fabric on a virtual clock, each engine worker holds its share in one on the real clock. A
//! frame in flight on a delayed link waits on that link, in a timer structure keyed by link
//! end; what crosses to media a driver runs (rings, link files, devices) leaves through exits
//! the driver flushes a batch at a time.
//!
//! Every frame is accounted for: received by a node, dropped with a reason at a named place
//! (a node's [`DropReason`](crate::router::DropReason), a link's [`LinkDrop`]), or in flight.

mod account;
mod end;
pub mod flow;
pub mod histogram;
mod impair;
mod network;
mod node;
mod report;
pub(crate) mod runtime;
pub mod sink;
mod wiring;

pub use account::Cause;
pub use end::{EndCounters, LinkDrop};
pub use flow::{FlowSpec, MIN_FRAME, Pace, WINDOW};
pub use histogram::Histogram;
pub use network::{Egress, End, LinkId, LinkSpec, Medium, Network, NetworkError, NodeId, NodeSpec};
pub(crate) use network::{Parts, end_name};
pub use node::{IfaceId, Kind, Node};
pub use report::{EndReport, FlowReport, LinkReport};
pub use runtime::RX_QUEUE;
pub(crate) use runtime::{Env, Fabric};
pub use sink::{FlowTally, Sink};
pub(crate) use wiring::end_seed;
