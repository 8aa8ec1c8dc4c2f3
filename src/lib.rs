//! shoal: many isolated userspace IPv4 routers in one process, and the network around them.
//!
//! The crate is layered (see docs/architecture.md): [`wire`] gives zero-copy views over frame
//! bytes, [`frame`] owns the preallocated frame pool, [`router`] is one sans-IO router instance
//! that turns batches of received frames into actions, [`fabric`] is the one model of a network
//! both drivers run — nodes, and links with ends, stages and a medium — [`shape`] applies
//! netem-style link impairments (delay, jitter, loss, duplication, corruption, reordering, rate)
//! seeded and sans-IO, [`capture`] writes pcapng captures of frames seen on links through a
//! bounded queue that never blocks the forwarding threads, [`sim`] drives the fabric on a
//! virtual clock and [`engine`] on pinned worker threads, [`link`] carries frames between
//! workers and processes over shared memory, [`port`] binds interfaces to devices of the host
//! (TAP, AF_XDP), [`vde`] joins VDE's switches, plugs and cables, [`topo`] reads, validates and
//! generates topology files, [`graph`] draws them (Graphviz DOT), [`probe`] matches ping and traceroute answers, and [`rig`] drives
//! one router at full speed for measurements.
//! [`time`] is the caller-supplied clock the sans-IO core runs on.
//!
//! `unsafe` is allowed only in the `sys` modules, which hold every system call and raw memory
//! access; the compiler refuses it anywhere else.

#![deny(unsafe_code)]

pub mod bench;
pub mod capture;
pub mod ctl;
pub mod engine;
pub mod fabric;
pub mod frame;
pub mod graph;
pub mod link;
pub mod netns;
pub mod port;
pub mod probe;
mod reasons;
pub mod rig;
pub mod rig_switch;
pub mod router;
pub mod shape;
pub mod sim;
pub mod switch;
pub mod time;
pub mod topo;
pub mod vde;
pub mod wire;
