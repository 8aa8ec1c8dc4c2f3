//! Long answers: a capture of running links streamed as pcapng down the client's connection.

use std::io::{self, Write};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::time::Duration;

use crate::capture::Capture;
use crate::engine::Engine;
use crate::fabric::LinkId;

/// Bytes the capture writes, handed on in chunks; an error once the reader has gone.
struct Chunks(SyncSender<Vec<u8>>);

impl Write for Chunks {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captured copies queued for the writer: beyond, copies are dropped and counted, never the
/// network's frames.
const QUEUE: usize = 8192;

/// Capture `ends` (name, link, end) of the running `engine` into pcapng chunks given to
/// `send`, until `send` says the client has gone; then stop copying.
pub(super) fn capture(
    engine: &Engine,
    ends: &[(String, LinkId, usize)],
    send: &mut dyn FnMut(&[u8]) -> bool,
) {
    let (tx, rx) = mpsc::sync_channel(64);
    let Ok(mut cap) = Capture::new(Box::new(Chunks(tx)), QUEUE) else {
        return;
    };
    let mut taps = Vec::new();
    for (name, link, k) in ends {
        match cap.tap(name) {
            Ok(tap) => taps.push((*link, *k, tap)),
            Err(_) => return,
        }
    }
    let Ok(thread) = cap.spawn() else {
        return;
    };
    for (link, k, tap) in &taps {
        engine.capture_link(*link, Some(*k), Some(tap.clone()));
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => {
                if !send(&chunk) {
                    break;
                }
            }
            // Nothing captured for a while: is anyone still there?
            Err(RecvTimeoutError::Timeout) => {
                if !send(&[]) {
                    break;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    for (link, k, _) in &taps {
        engine.capture_link(*link, Some(*k), None);
    }
    drop(rx);
    // The writer finds its reader gone and stops; what it says of it is for nobody.
    let _ = thread.stop();
}
