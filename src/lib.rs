//! shoal: many isolated userspace IPv4 routers in one process.
//!
//! The crate is layered (see docs/architecture.md): [`wire`] gives zero-copy views over frame
//! bytes, [`frame`] owns the preallocated frame pool, [`router`] is one sans-IO router instance
//! that turns batches of received frames into actions, [`engine`] runs instances on pinned
//! worker threads, [`link`] carries frames between workers and processes over shared memory,
//! [`port`] binds router interfaces to devices of the host (TAP, AF_XDP),
//! [`topo`] reads, validates and generates topology files, [`sim`] runs instances over
//! in-memory links on a virtual clock, [`probe`] matches ping and traceroute answers, and
//! [`rig`] drives one router at full speed for measurements. [`time`] is the caller-supplied
//! clock the sans-IO core runs on.
//!
//! `unsafe` is allowed only in the `sys` modules, which hold every system call and raw memory
//! access; the compiler refuses it anywhere else.

#![deny(unsafe_code)]

pub mod bench;
pub mod engine;
pub mod frame;
pub mod link;
pub mod netns;
pub mod port;
pub mod probe;
pub mod rig;
pub mod router;
pub mod sim;
pub mod time;
pub mod topo;
pub mod wire;
