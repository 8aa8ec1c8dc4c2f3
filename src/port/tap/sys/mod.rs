//! The TAP port's system interface: the device (`tun`) and the io_uring that moves frames
//! between it and the pool (`ring`). All `unsafe` of the TAP port lives here.

#![allow(unsafe_code)]

pub(crate) mod ring;
pub(crate) mod tun;
