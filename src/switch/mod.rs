//! Ethernet switching: the spanning-tree protocol ([`stp`]) that keeps a switched loop free.
pub mod stp;
