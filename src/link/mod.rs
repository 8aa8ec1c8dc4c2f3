//! Shared-memory Ethernet links: a file (or memfd) mapped by the processes it connects.
//!
//! [`Endpoint`] is one side of a point-to-point link: per direction a lock-free
//! single-producer/single-consumer ring of descriptors and a frame area, read in place by the
//! consumer. [`Member`] is one member of a bus, the successor of NetBSD rump's shmif: every frame
//! a member sends reaches every other attached member. Both share one file format (see
//! docs/links.md for the byte layout, the memory-ordering argument and the recovery protocol):
//! a header naming magic, version, kind and sizes, then one block per member recording its owner
//! pid and generation, the tail of the ring it writes, and the doorbell it sleeps on.
//!
//! A peer killed at any moment never wedges a link: producers publish only after writing, so a
//! half-written frame is never visible, and the next process to open a side whose recorded owner
//! is dead takes it over and bumps its generation.

mod bus;
mod layout;
mod shm;
mod sys;

pub use bus::{BusStats, Member};
pub use layout::{LinkConfig, Side};
pub use shm::{Doorbell, Endpoint, Stats};
pub use sys::pin_current_thread;

use std::path::PathBuf;

/// Most frames one `recv` hands out (a port burst).
pub const RECV_BATCH: usize = crate::frame::BATCH_MAX;

/// What can go wrong opening a link. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("link file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("link file {path} is not a shoal link: {what}")]
    BadFile { path: PathBuf, what: String },
    #[error("link file {path} was made with {found}, but {wanted} was asked for")]
    Mismatch {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error("bad link configuration: {0}")]
    Config(String),
    #[error("link file {path}: side {side} is held by live process {pid}")]
    SideBusy { path: PathBuf, side: u32, pid: u32 },
    #[error("link file {path}: every side is held by a live process")]
    Full { path: PathBuf },
}
