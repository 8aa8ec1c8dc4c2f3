//! An interface on standard input and output in `vde_plug`'s stream form: each frame a
//! two-byte big-endian length and the frame. `dpipe vde_plug SWITCH = shoal plug TOPO
//! NODE:IFACE` plugs the interface into a switch; `dpipe shoal plug a.toml r1:wan = ssh far
//! shoal plug b.toml r2:wan` joins two shoal processes across hosts, as VDE joins switches.
//!
//! Opening the stream takes the process's standard input and output for it: it keeps
//! duplicates of both (made non-blocking) and points descriptor 1 at standard error, so that
//! nothing printed later can slip into the frame stream. SIGPIPE is ignored from then on: a
//! reader that goes away ends the stream, not the process. Only one interface per process can
//! have the stream. When standard input ends (or the reader of standard output goes away) the
//! stream is closed, [`stdio_closed`] says so, and `shoal plug` stops, as `vde_plug` does.
//!
//! Frames longer than libvdeplug's `MAXPACKET` (1521 bytes) are not sent: `vde_plug` would
//! lose its place in the stream. Output waiting for the reader is bounded (256 KiB): beyond,
//! frames are refused (`socket-full` on the link).

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use super::proto::{Decoder, ETH_HEADER, Record, STREAM_FRAME_MAX, encode_record};
use super::sys::{self, Poller, Ready};
use super::{VdeError, VdeStats};
use crate::frame::{BATCH_MAX, Frame, MAX_DATA, Pool};

/// Output waiting for a slow reader, at most.
const OUT_MAX: usize = 256 * 1024;
/// Input read at once, at most.
const IN_ROOM: usize = 64 * 1024;

const INPUT: u64 = 1;
const OUTPUT: u64 = 2;

/// Whether an interface of this process has standard input and output.
static TAKEN: AtomicBool = AtomicBool::new(false);
/// Whether that stream has ended.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether the stream on standard input and output has ended (its input reached end of
/// file, or its output's reader went away): `shoal plug` then stops.
pub fn stdio_closed() -> bool {
    CLOSED.load(Ordering::Relaxed)
}

/// The stream on standard input and output.
pub struct Stream {
    input: File,
    output: File,
    decoder: Decoder,
    /// Encoded records not yet written, from `written` on.
    pending: Vec<u8>,
    written: usize,
    poller: Poller,
    /// Standard output is watched for room (output is waiting).
    watching: bool,
    /// Why the stream ended, once it has.
    closed: Option<&'static str>,
    /// `O_NONBLOCK` of standard input and output as found, restored on drop.
    found: (bool, bool),
    stats: VdeStats,
}

impl Stream {
    /// Take standard input and output for the stream. Refused when another interface has
    /// them, when either is a terminal, and when standard input cannot be waited on (a
    /// regular file).
    pub fn open() -> Result<Stream, VdeError> {
        let fail = |why: String| VdeError::Stdio(why);
        if std::io::stdin().is_terminal() || std::io::stdout().is_terminal() {
            return Err(fail(
                "a terminal cannot carry the vde_plug stream (run under dpipe, or with pipes)"
                    .into(),
            ));
        }
        if TAKEN.swap(true, Ordering::SeqCst) {
            return Err(fail("another interface has the stream already".into()));
        }
        let opened = (|| {
            let input = File::from(sys::dup(0)?);
            let output = File::from(sys::dup(1)?);
            let poller = Poller::new()?;
            poller.add(input.as_fd(), INPUT, false).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("standard input must be a pipe or a socket ({e})"),
                )
            })?;
            let found = (
                sys::set_nonblocking(input.as_fd(), true)?,
                sys::set_nonblocking(output.as_fd(), true)?,
            );
            Ok::<_, io::Error>((input, output, poller, found))
        })();
        let (input, output, poller, found) = match opened {
            Ok(x) => x,
            Err(e) => {
                TAKEN.store(false, Ordering::SeqCst);
                return Err(fail(e.to_string()));
            }
        };
        // From here on descriptor 1 is standard error: the frame stream is ours alone.
        let _ = std::io::stdout().flush();
        if let Err(e) = sys::dup2(2, 1) {
            TAKEN.store(false, Ordering::SeqCst);
            return Err(fail(format!("redirecting standard output: {e}")));
        }
        sys::ignore_sigpipe();
        CLOSED.store(false, Ordering::Relaxed);
        Ok(Stream {
            input,
            output,
            decoder: Decoder::new(MAX_DATA, IN_ROOM),
            pending: Vec::with_capacity(OUT_MAX),
            written: 0,
            poller,
            watching: false,
            closed: None,
            found,
            stats: VdeStats::default(),
        })
    }

    fn close(&mut self, why: &'static str) {
        if self.closed.is_none() {
            self.closed = Some(why);
            self.poller.remove(self.input.as_fd());
            if self.watching {
                self.poller.remove(self.output.as_fd());
                self.watching = false;
            }
            CLOSED.store(true, Ordering::Relaxed);
        }
    }

    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>, refused: &mut Vec<Frame>) {
        for frame in frames.drain(..) {
            let len = frame.len();
            if self.closed.is_some() {
                self.stats.unplugged += 1;
                pool.free(frame);
            } else if len > STREAM_FRAME_MAX {
                self.stats.tx_oversize += 1;
                pool.free(frame);
            } else if self.pending.len() - self.written + 2 + len > OUT_MAX {
                self.stats.tx_full += 1;
                refused.push(frame);
            } else {
                if self.written == self.pending.len() {
                    self.pending.clear();
                    self.written = 0;
                }
                encode_record(pool.data(&frame), &mut self.pending);
                self.stats.tx += 1;
                pool.free(frame);
            }
        }
        self.flush();
    }

    /// Write what standard output takes now; watch it for room while output waits.
    fn flush(&mut self) {
        while self.written < self.pending.len() && self.closed.is_none() {
            match self.output.write(&self.pending[self.written..]) {
                Ok(0) => break,
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.close("its reader went away"),
            }
        }
        if self.written == self.pending.len() {
            self.pending.clear();
            self.written = 0;
        } else if self.written > OUT_MAX / 2 {
            self.pending.drain(..self.written);
            self.written = 0;
        }
        let waiting = !self.pending.is_empty() && self.closed.is_none();
        if waiting != self.watching {
            let done = if waiting {
                self.poller.add(self.output.as_fd(), OUTPUT, true)
            } else {
                self.poller.remove(self.output.as_fd());
                Ok(())
            };
            // Regular files and the like are always writable; without a watch the next send
            // or receive writes again.
            self.watching = waiting && done.is_ok();
        }
    }

    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        if self.closed.is_some() {
            return 0;
        }
        let mut ready = Vec::new();
        let _ = self.poller.ready(&mut ready);
        let mut readable = self.decoder.ready();
        for Ready { token, read, write } in ready {
            match token {
                INPUT if read => readable = true,
                OUTPUT if write || read => self.flush(),
                _ => {}
            }
        }
        if !readable {
            return 0;
        }
        let mut lost = 0;
        let mut looked = false;
        while out.len() < BATCH_MAX {
            match self.decoder.record() {
                Some(Record::Frame(bytes)) if bytes.len() < ETH_HEADER => self.stats.rx_runt += 1,
                Some(Record::Frame(bytes)) => match pool.alloc_from(bytes) {
                    Some(f) => {
                        self.stats.rx += 1;
                        out.push(f);
                    }
                    None => lost += 1,
                },
                Some(Record::Garbage(_)) => self.stats.rx_garbage += 1,
                None if looked => break,
                None => {
                    // Read once per receive: what is left waits for the next.
                    looked = true;
                    match self.input.read(self.decoder.spare()) {
                        Ok(0) => {
                            self.close("end of input");
                            break;
                        }
                        Ok(n) => self.decoder.filled(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => break,
                        Err(_) => {
                            self.close("reading standard input failed");
                            break;
                        }
                    }
                }
            }
        }
        lost
    }

    /// Whether whole records wait in the buffer (the descriptor will not announce them).
    pub fn pending(&self) -> bool {
        self.closed.is_none() && self.decoder.ready()
    }

    pub fn wait_fd(&self) -> RawFd {
        self.poller.raw()
    }

    pub fn stats(&self) -> VdeStats {
        self.stats
    }

    pub fn describe(&self) -> String {
        let mut s = "vde stream on standard input/output".to_string();
        if let Some(why) = self.closed {
            s.push_str(&format!(", closed ({why})"));
        }
        let st = &self.stats;
        if st.tx_oversize != 0 {
            s.push_str(&format!(
                "; {} frames longer than {STREAM_FRAME_MAX} bytes not sent",
                st.tx_oversize
            ));
        }
        if st.unplugged != 0 {
            s.push_str(&format!("; {} frames sent after it closed", st.unplugged));
        }
        if st.rx_garbage != 0 {
            s.push_str(&format!("; {} impossible lengths", st.rx_garbage));
        }
        s
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The open file descriptions are shared with whoever gave us the pipes.
        let _ = sys::set_nonblocking(self.input.as_fd(), self.found.0);
        let _ = sys::set_nonblocking(self.output.as_fd(), self.found.1);
        TAKEN.store(false, Ordering::SeqCst);
    }
}
