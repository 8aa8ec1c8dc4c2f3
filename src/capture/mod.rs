//! Packet capture: pcapng files of the frames seen on shoal's links, readable by Wireshark and
//! tshark, fed without ever slowing the threads that forward frames.
//!
//! [`pcapng`] is the format (a streaming [`Writer`] of the blocks draft-ietf-opsawg-pcapng
//! defines: one Ethernet interface per captured link end named "node:iface", nanosecond
//! timestamps, the direction in `epb_flags`, a frame the link dropped marked with a comment
//! `"dropped: <reason>"`). [`queue`] is the hand-off: a [`Tap`] per link end copies frames into a
//! bounded queue and drops (and counts) the copy, never the frame, when the queue is full. This
//! file is the glue: a [`Capture`] owns the queue's consumer end and the writer. The simulator
//! calls [`Capture::drain`] on its own thread; the engine moves the capture onto a thread of
//! its own with [`Capture::spawn`], which writes copies as they arrive and flushes at least
//! every ~100 ms so that `shoal run … -w - | tshark -r -` shows traffic live.
//!
//! A capture ends with an Interface Statistics Block per interface whose `isb_osdrop` counts
//! the copies that did not reach the file, and [`CaptureTotals`]. An output that fails — a
//! closed pipe because tshark exited — never panics and never stops the network: the capture
//! stops writing, producers' copies are dropped and counted from then on, and the error is
//! reported once (by the `drain` that met it, otherwise by `finish`/`stop`). Rust's runtime
//! ignores SIGPIPE, so a closed pipe is an `EPIPE` error here, not a signal.

pub mod pcapng;
pub mod queue;

pub use pcapng::{Direction, Record, Writer};
pub use queue::Tap;

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use queue::{Copied, Counters, Msg, Queue};

/// Longest time written copies wait in the output buffer while the capture thread is idle.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Output buffer size: one write syscall per this many bytes while traffic flows.
const OUT_BUFFER: usize = 64 * 1024;

/// Copies the capture thread writes between two returns of buffers to the producers.
const THREAD_BATCH: usize = 64;

/// While copies keep coming (one within [`LINGER`]), the capture thread looks for more every
/// `POLL` instead of sleeping on the queue: a producer then never finds it asleep, so recording
/// a copy never costs the forwarding thread a wake-up (a futex call, several microseconds on a
/// VM, which would add to the delay of every frame behind it).
const POLL: Duration = Duration::from_millis(1);

/// How long after the last copy the capture thread goes on polling before it sleeps until
/// woken: an idle capture costs nothing.
const LINGER: Duration = Duration::from_secs(1);

/// One declared interface, as the consumer sees it.
#[derive(Debug)]
struct Interface {
    name: String,
    counters: Arc<Counters>,
    written: u64,
}

/// A capture session: the consumer end of the queue and the pcapng writer. End it with
/// [`Capture::finish`] (or [`CaptureThread::stop`]); one merely dropped flushes what it wrote
/// but has no statistics blocks.
pub struct Capture {
    writer: Writer<BufWriter<Box<dyn Write + Send>>>,
    queue: Queue,
    interfaces: Vec<Interface>,
    /// Latest timestamp written, used for the statistics blocks (virtual time in the simulator).
    latest_ts: u64,
    /// Set on the first output error; from then on copies are discarded.
    failed: bool,
    /// That first error, until it is reported.
    error: Option<io::Error>,
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("interfaces", &self.interfaces)
            .field("capacity", &self.queue.capacity())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl Capture {
    /// A capture writing to `out` (buffered here) with room for `capacity` queued copies; writes
    /// the Section Header Block. `capacity` 0 is refused with `InvalidInput`.
    pub fn new(out: Box<dyn Write + Send>, capacity: usize) -> io::Result<Capture> {
        if capacity == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a capture needs room for at least one queued copy",
            ));
        }
        Ok(Capture {
            writer: Writer::new(BufWriter::with_capacity(OUT_BUFFER, out))?,
            queue: Queue::new(capacity),
            interfaces: Vec::new(),
            latest_ts: 0,
            failed: false,
            error: None,
        })
    }

    /// Declares an interface (writes its Interface Description Block, `if_name` = `name`,
    /// shoal's "node:iface") and returns the producer handle for it.
    pub fn tap(&mut self, name: &str) -> io::Result<Tap> {
        if self.failed {
            return Err(io::Error::other("the capture's output failed earlier"));
        }
        let iface = self.writer.add_interface(name).inspect_err(|_| {
            // Reported right here; the output may hold half a block, so stop using it.
            self.failed = true;
            self.queue.close();
        })?;
        let (tap, counters) = self.queue.tap(iface);
        self.interfaces.push(Interface {
            name: name.to_owned(),
            counters,
            written: 0,
        });
        Ok(tap)
    }

    /// Writes every copy queued so far (bounded by the capacity, so a busy producer cannot keep
    /// this from returning) and flushes; returns how many were written. The simulator calls this
    /// on its own thread. The first output error is returned here once; later calls discard
    /// copies (counted as dropped) and return `Ok(0)`.
    pub fn drain(&mut self) -> io::Result<usize> {
        let (written, _) = self.pump(self.queue.capacity() + 1);
        if written > 0 && !self.failed {
            self.flush();
        }
        match self.error.take() {
            Some(error) => Err(error),
            None => Ok(written),
        }
    }

    /// Ends the capture on the calling thread: stops the taps, writes what is queued, an
    /// Interface Statistics Block per interface with its lost copies (`isb_osdrop`) at the
    /// latest timestamp written (0 if none), flushes and closes the output. An output error not
    /// yet reported by `drain` is returned as an [`OutputFailed`] inside an `io::Error` of the
    /// same kind.
    pub fn finish(mut self) -> io::Result<CaptureTotals> {
        self.queue.close();
        self.pump(self.queue.capacity() + 1);
        let totals = self.totals();
        if !self.failed {
            for (iface, stats) in (0u32..).zip(&totals.interfaces) {
                if let Err(e) = self
                    .writer
                    .write_stats(iface, self.latest_ts, stats.dropped_copies)
                {
                    self.fail(e);
                    break;
                }
            }
            self.flush();
        }
        let Capture { writer, error, .. } = self;
        // Dropping the output closes it, so a reader at the other end of a pipe sees EOF. Taken
        // out of its buffer without a flush: after an error, a BufWriter's drop would try the
        // failed output once more.
        let (out, _unwritten) = writer.into_inner().into_parts();
        drop(out);
        match error {
            Some(source) => Err(io::Error::new(
                source.kind(),
                OutputFailed { totals, source },
            )),
            None => Ok(totals),
        }
    }

    /// Moves the capture onto its own thread, which writes copies as they arrive and flushes at
    /// most [`FLUSH_EVERY`] after the last write, so a reader of a pipe sees traffic live.
    /// Declare every interface first: taps cannot be added to a running capture.
    /// [`CaptureThread::stop`] ends it like [`Capture::finish`]. Fails only if the thread
    /// cannot be created.
    pub fn spawn(self) -> io::Result<CaptureThread> {
        let stopper = self.queue.stopper();
        let thread = thread::Builder::new()
            .name("shoal-capture".into())
            .spawn(move || self.run())?;
        Ok(CaptureThread {
            thread: Some(thread),
            stopper,
        })
    }

    /// Totals so far: what was written and, per interface, offered − written as dropped.
    pub fn totals(&self) -> CaptureTotals {
        let interfaces: Vec<InterfaceTotals> = self
            .interfaces
            .iter()
            .map(|i| InterfaceTotals {
                name: i.name.clone(),
                written: i.written,
                dropped_copies: i.counters.offered().saturating_sub(i.written),
            })
            .collect();
        CaptureTotals {
            written: interfaces.iter().map(|i| i.written).sum(),
            dropped_copies: interfaces.iter().map(|i| i.dropped_copies).sum(),
            interfaces,
        }
    }

    /// The capture thread's loop: block while idle, poll and write batches while busy, flush
    /// when written data has waited `FLUSH_EVERY`, until told to stop.
    fn run(mut self) -> io::Result<CaptureTotals> {
        let mut dirty = false;
        let mut last_flush = Instant::now();
        let mut last_copy: Option<Instant> = None;
        loop {
            let msg = if last_copy.is_some_and(|t| t.elapsed() < LINGER) {
                let msg = self.queue.try_recv();
                if msg.is_none() {
                    std::thread::sleep(POLL);
                }
                msg
            } else {
                let wait = dirty.then(|| FLUSH_EVERY.saturating_sub(last_flush.elapsed()));
                self.queue.recv(wait)
            };
            let stop = match msg {
                Some(Msg::Copy(copy)) => {
                    last_copy = Some(Instant::now());
                    dirty |= self.put(copy);
                    let (written, stop) = self.pump(THREAD_BATCH);
                    dirty |= written > 0;
                    stop
                }
                Some(Msg::Stop) => true,
                None => false,
            };
            self.queue.give_back();
            if stop {
                break;
            }
            if dirty && last_flush.elapsed() >= FLUSH_EVERY {
                self.flush();
                dirty = false;
                last_flush = Instant::now();
            }
        }
        self.finish()
    }

    /// Writes up to `limit` queued copies without waiting; returns how many were written and
    /// whether a stop was asked for (the copies behind it are left queued).
    fn pump(&mut self, limit: usize) -> (usize, bool) {
        let mut written = 0;
        let mut stop = false;
        for _ in 0..limit {
            match self.queue.try_recv() {
                Some(Msg::Copy(copy)) => written += usize::from(self.put(copy)),
                Some(Msg::Stop) => {
                    stop = true;
                    break;
                }
                None => break,
            }
        }
        self.queue.give_back();
        (written, stop)
    }

    /// Writes one copy (unless the output has failed) and recycles its buffer.
    fn put(&mut self, copy: Copied) -> bool {
        let mut written = false;
        if !self.failed {
            let rec = Record {
                iface: copy.iface,
                ts_ns: copy.ts_ns,
                data: &copy.buf,
                dir: copy.dir,
                dropped: copy.dropped,
            };
            match self.writer.write(&rec) {
                Ok(()) => {
                    if let Some(i) = self.interfaces.get_mut(copy.iface as usize) {
                        i.written += 1;
                    }
                    self.latest_ts = self.latest_ts.max(copy.ts_ns);
                    written = true;
                }
                Err(e) => self.fail(e),
            }
        }
        self.queue.recycle(copy.buf);
        written
    }

    fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            self.fail(e);
        }
    }

    /// Keeps the first output error and stops the producers from queueing copies.
    fn fail(&mut self, error: io::Error) {
        if !self.failed {
            self.failed = true;
            self.error = Some(error);
            self.queue.close();
        }
    }
}

/// A [`Capture`] running on its own thread.
#[derive(Debug)]
pub struct CaptureThread {
    /// Taken by `stop`; still there in `drop` when the owner never called `stop`.
    thread: Option<JoinHandle<io::Result<CaptureTotals>>>,
    stopper: SyncSender<Msg>,
}

impl CaptureThread {
    /// Stops the capture: writes what is queued, an Interface Statistics Block per interface
    /// with its lost copies, flushes, closes the output and returns the totals — or the output's
    /// first error, as an [`OutputFailed`] inside an `io::Error` of the same kind.
    pub fn stop(mut self) -> io::Result<CaptureTotals> {
        self.join()
    }

    fn join(&mut self) -> io::Result<CaptureTotals> {
        let Some(thread) = self.thread.take() else {
            return Err(io::Error::other("capture thread already stopped"));
        };
        // Room is guaranteed (see Msg::Stop); an error means the thread has already ended.
        let _ = self.stopper.send(Msg::Stop);
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("capture thread panicked")))
    }
}

impl Drop for CaptureThread {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Still finish the file properly; the owner did not ask for the outcome.
            let _ = self.join();
        }
    }
}

/// What a capture wrote and lost, in total and per interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureTotals {
    /// Packets handed to the output. After an output error, the last buffer's worth of them
    /// (up to 64 KiB) may not have reached it.
    pub written: u64,
    /// Copies recorded but not written: the queue was full, the output had failed, or they were
    /// still queued when the capture stopped.
    pub dropped_copies: u64,
    /// The same per interface, in interface id order.
    pub interfaces: Vec<InterfaceTotals>,
}

/// One interface's share of [`CaptureTotals`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceTotals {
    /// The interface's `if_name` ("node:iface").
    pub name: String,
    /// Packets written for it.
    pub written: u64,
    /// Copies of it recorded but not written (its `isb_osdrop`).
    pub dropped_copies: u64,
}

impl fmt::Display for CaptureTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} packets written, {} copies dropped",
            self.written, self.dropped_copies
        )
    }
}

impl fmt::Display for InterfaceTotals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} written, {} copies dropped",
            self.name, self.written, self.dropped_copies
        )
    }
}

/// The capture's output failed (e.g. the reader of its pipe exited); carried inside the
/// `io::Error` (same kind as `source`) that [`Capture::finish`] or [`CaptureThread::stop`]
/// return, so callers can still tell what was written.
#[derive(Debug, thiserror::Error)]
#[error("capture output failed ({totals}): {source}")]
pub struct OutputFailed {
    /// What the capture wrote before and lost after the failure.
    pub totals: CaptureTotals,
    /// The output's first error.
    #[source]
    pub source: io::Error,
}

#[cfg(test)]
mod tests {
    use super::pcapng::parse;
    use super::*;
    use std::sync::Mutex;

    /// An output the test can read while the capture owns it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn bytes(&self) -> Vec<u8> {
            self.0.lock().unwrap().clone()
        }
    }

    /// An output that accepts `left` bytes, then fails like a pipe whose reader has exited.
    struct Closing {
        left: usize,
        errors: Arc<Mutex<u32>>,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.left == 0 {
                *self.errors.lock().unwrap() += 1;
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn drain_writes_in_order_and_finish_adds_statistics() {
        let out = Shared::default();
        let mut cap = Capture::new(Box::new(out.clone()), 8).unwrap();
        let a = cap.tap("r1:eth0").unwrap();
        let b = cap.tap("r2:eth1").unwrap();
        assert_eq!((a.iface(), b.iface()), (0, 1));
        assert!(a.record(10, Direction::Outbound, &[1; 60], None));
        assert!(b.record(11, Direction::Inbound, &[2; 60], Some("netem-loss")));
        assert_eq!(cap.drain().unwrap(), 2);
        // Overflow b: 8 buffers, 10 copies.
        for i in 0..10 {
            b.record(20 + i, Direction::Inbound, &[3; 60], None);
        }
        assert_eq!(cap.drain().unwrap(), 8);
        let totals = cap.finish().unwrap();
        assert_eq!(totals.written, 10);
        assert_eq!(totals.dropped_copies, 2);
        assert_eq!(totals.interfaces[0].written, 1);
        assert_eq!(totals.interfaces[1].dropped_copies, 2);
        assert_eq!(totals.interfaces[1].name, "r2:eth1");

        let bytes = out.bytes();
        let packets = parse::packets(&bytes);
        assert_eq!(packets.len(), 10);
        assert_eq!(
            (packets[0].iface, packets[0].ts_ns, packets[0].flags),
            (0, 10, 2)
        );
        assert_eq!(packets[1].comment.as_deref(), Some("dropped: netem-loss"));
        let ts: Vec<u64> = packets[2..].iter().map(|p| p.ts_ns).collect();
        assert_eq!(ts, (20..28).collect::<Vec<_>>());
        // One ISB per interface at the end, at the latest timestamp, with isb_osdrop.
        let isbs: Vec<_> = parse::blocks(&bytes)
            .into_iter()
            .filter(|b| b.kind == 5)
            .collect();
        assert_eq!(isbs.len(), 2);
        assert_eq!(isbs[1].body[..12], [1, 0, 0, 0, 0, 0, 0, 0, 27, 0, 0, 0]);
        let osdrop = parse::options(&isbs[1].body, 12);
        assert_eq!(osdrop, vec![(7, 2u64.to_le_bytes().to_vec())]);
        // Taps outlive the capture; their copies are dropped and counted.
        assert!(!a.record(30, Direction::Inbound, &[4], None));
        assert_eq!(a.dropped_copies(), 1);
    }

    #[test]
    fn zero_capacity_is_refused() {
        let err = Capture::new(Box::new(io::sink()), 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn failed_output_is_reported_once_and_producers_go_on() {
        let errors = Arc::new(Mutex::new(0));
        let out = Closing {
            left: 4096,
            errors: Arc::clone(&errors),
        };
        let mut cap = Capture::new(Box::new(out), 16).unwrap();
        let tap = cap.tap("r1:eth0").unwrap();
        let mut reported = 0;
        for round in 0..40 {
            for _ in 0..8 {
                tap.record(round, Direction::Inbound, &[0; 1000], None);
            }
            if cap.drain().is_err() {
                reported += 1;
            }
        }
        assert_eq!(reported, 1, "the error comes back once");
        assert!(tap.dropped_copies() > 0, "copies dropped after the failure");
        // Nothing is written after the first error.
        assert_eq!(*errors.lock().unwrap(), 1);
        let totals = cap.finish().unwrap();
        // The first drain's copies went into the output buffer; the flush failed part-way.
        assert_eq!((totals.written, totals.dropped_copies), (8, 312));
    }

    #[test]
    fn thread_flushes_when_idle_and_stop_returns_totals() {
        let out = Shared::default();
        let mut cap = Capture::new(Box::new(out.clone()), 64).unwrap();
        let tap = cap.tap("r1:eth0").unwrap();
        let header = out.bytes().len();
        assert_eq!(header, 0, "the header waits in the output buffer");
        let running = cap.spawn().unwrap();
        assert!(tap.record(1, Direction::Inbound, &[9; 100], None));
        // Without a flush the packet would sit in the 64 KiB buffer until stop.
        let deadline = Instant::now() + Duration::from_secs(30);
        while parse::packets(&out.bytes()).is_empty() {
            assert!(Instant::now() < deadline, "nothing flushed while idle");
            thread::sleep(Duration::from_millis(10));
        }
        let producers: Vec<_> = (0..2)
            .map(|_| {
                let tap = tap.clone();
                thread::spawn(move || {
                    (0..500)
                        .filter(|&i| tap.record(2 + i, Direction::Outbound, &[1; 64], None))
                        .count() as u64
                })
            })
            .collect();
        let queued: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        let totals = running.stop().unwrap();
        assert_eq!(totals.written, 1 + queued);
        assert_eq!(totals.dropped_copies, 1000 - queued);
        assert_eq!(parse::packets(&out.bytes()).len() as u64, totals.written);
    }

    #[test]
    fn thread_reports_a_failed_output_from_stop() {
        let errors = Arc::new(Mutex::new(0));
        let out = Closing {
            left: 0,
            errors: Arc::clone(&errors),
        };
        let mut cap = Capture::new(Box::new(out), 16).unwrap();
        let tap = cap.tap("r1:eth0").unwrap();
        let running = cap.spawn().unwrap();
        let mut recorded = 0;
        // The header and IDB sit in the buffer until the first flush fails.
        while tap.dropped_copies() == 0 {
            tap.record(recorded, Direction::Inbound, &[0; 200], None);
            recorded += 1;
            thread::sleep(Duration::from_millis(1));
            assert!(recorded < 30_000, "the failure never closed the taps");
        }
        let err = running.stop().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let failed = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<OutputFailed>())
            .unwrap();
        assert_eq!(
            failed.totals.written + failed.totals.dropped_copies,
            recorded
        );
        assert_eq!(*errors.lock().unwrap(), 1, "no write after the first error");
    }

    #[test]
    fn dropping_a_running_capture_finishes_it() {
        let out = Shared::default();
        let mut cap = Capture::new(Box::new(out.clone()), 4).unwrap();
        let tap = cap.tap("r1:eth0").unwrap();
        let running = cap.spawn().unwrap();
        tap.record(5, Direction::Inbound, &[1; 60], None);
        drop(running);
        let blocks = parse::blocks(&out.bytes());
        assert_eq!(blocks.last().map(|b| b.kind), Some(5), "ends with an ISB");
    }
}
