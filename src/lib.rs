//! shoal: many isolated userspace IPv4 routers in one process.
//!
//! The crate is layered (see docs/architecture.md): [`wire`] gives zero-copy views over frame
//! bytes and [`time`] the caller-supplied clock the sans-IO core runs on.

pub mod frame;
pub mod router;
pub mod sim;
pub mod time;
pub mod wire;
