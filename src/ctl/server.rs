//! The control socket's server: one thread, every client non-blocking, bounded buffers.
//!
//! The thread waits on the listening socket and every client at once (`poll`), reads what
//! arrived, carries out each complete line in turn and writes answers as the client takes
//! them. Quick commands run on this thread (their jobs take microseconds on a worker); long
//! ones (ping, traceroute, capture) on a thread of their own, which hands the server chunks.
//! A client is dropped — with a last error line when it can take one — for a line longer than
//! [`MAX_LINE`], for not reading while more than [`MAX_PENDING`] bytes wait for it, or when
//! [`MAX_CLIENTS`] are connected already; nothing a client does makes a worker wait.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::sys::{self, Ready};
use super::{Ctl, MAX_CLIENTS, MAX_LINE, MAX_PENDING, Reply};

/// How long the server waits for something to happen before it looks at long answers and
/// at whether it should stop.
const TICK: Duration = Duration::from_millis(20);

/// What a long answer hands the server.
enum Chunk {
    Data(Vec<u8>),
    End,
}

struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    output: VecDeque<u8>,
    /// A long answer being made, and the flag that tells its job the client has gone.
    job: Option<(Receiver<Chunk>, Arc<AtomicBool>)>,
    /// Drop the client once its output is written.
    closing: bool,
    gone: bool,
}

impl Client {
    fn frame(&mut self, head: &str, body: &[u8]) {
        self.output.extend(head.as_bytes());
        self.output.extend(body);
        if self.output.len() > MAX_PENDING {
            // It does not read what it asks for.
            self.gone = true;
        }
    }

    fn answer(&mut self, result: Result<String, String>) {
        match result {
            Ok(text) => self.frame(&format!("ok {}\n", text.len()), text.as_bytes()),
            Err(why) => self.frame(&format!("error {}\n", why.len()), why.as_bytes()),
        }
    }
}

/// A control socket being served; stops (and removes the socket) when dropped.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listen at `path` (its directory made 0700 if missing, the socket 0600) and serve `ctl`.
    /// A socket left by a process that died is replaced; one another process listens on is an
    /// error.
    pub fn start(path: &Path, ctl: Arc<Ctl>) -> io::Result<Server> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{}: another shoal run listens there", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("shoal-ctl".into())
            .spawn(move || serve(&listener, &ctl, &stopped))?;
        Ok(Server {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: &UnixListener, ctl: &Arc<Ctl>, stop: &AtomicBool) {
    let mut clients: Vec<Client> = Vec::new();
    let mut fds = Vec::new();
    let mut ready = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        fds.clear();
        fds.push((listener.as_raw_fd(), false));
        fds.extend(
            clients
                .iter()
                .map(|c| (c.stream.as_raw_fd(), !c.output.is_empty())),
        );
        sys::poll(&fds, &mut ready, TICK);
        if ready.first().is_some_and(|r| r.read) {
            accept(listener, &mut clients);
        }
        for (k, c) in clients.iter_mut().enumerate() {
            let r = ready.get(k + 1).copied().unwrap_or_default();
            step(c, r, ctl);
        }
        clients.retain(|c| !c.gone);
    }
    for c in &clients {
        if let Some((_, gone)) = &c.job {
            gone.store(true, Ordering::Relaxed);
        }
    }
}

fn accept(listener: &UnixListener, clients: &mut Vec<Client>) {
    while let Ok((stream, _)) = listener.accept() {
        if stream.set_nonblocking(true).is_err() {
            continue;
        }
        let mut c = Client {
            stream,
            input: Vec::new(),
            output: VecDeque::new(),
            job: None,
            closing: false,
            gone: false,
        };
        if clients.len() >= MAX_CLIENTS {
            c.answer(Err(format!("{MAX_CLIENTS} clients are connected already")));
            // One try to say so; a client that cannot take it now is dropped all the same.
            let (head, _) = c.output.as_slices();
            let _ = c.stream.write(head);
            continue;
        }
        clients.push(c);
    }
}

/// Everything one client needs this round: read, answer complete lines, collect long
/// answers, write.
fn step(c: &mut Client, r: Ready, ctl: &Arc<Ctl>) {
    if r.read || r.gone {
        read(c);
    }
    collect(c);
    while c.job.is_none() && !c.closing && !c.gone {
        let Some(end) = c.input.iter().position(|&b| b == b'\n') else {
            if c.input.len() > MAX_LINE {
                c.answer(Err(format!("a command line is at most {MAX_LINE} bytes")));
                c.closing = true;
            }
            break;
        };
        let line: Vec<u8> = c.input.drain(..=end).collect();
        match std::str::from_utf8(&line) {
            Ok(text) => run(c, text.trim(), ctl),
            Err(_) => c.answer(Err("a command line is text (UTF-8)".into())),
        }
    }
    write(c);
    if c.closing && c.output.is_empty() {
        c.gone = true;
    }
}

fn read(c: &mut Client) {
    let mut buf = [0u8; 16 * 1024];
    // At most a few reads a round, so one client cannot keep the others waiting.
    for _ in 0..4 {
        match c.stream.read(&mut buf) {
            Ok(0) => {
                c.closing = true;
                if c.output.is_empty() && c.job.is_none() {
                    c.gone = true;
                }
                return;
            }
            Ok(n) => {
                c.input.extend_from_slice(&buf[..n]);
                if c.input.len() > MAX_LINE + buf.len() && !c.input.contains(&b'\n') {
                    c.answer(Err(format!("a command line is at most {MAX_LINE} bytes")));
                    c.closing = true;
                    c.input.clear();
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                c.gone = true;
                return;
            }
        }
    }
}

fn run(c: &mut Client, line: &str, ctl: &Arc<Ctl>) {
    // A command that panics is a bug; it costs its client an answer, not the socket.
    let reply = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ctl.execute(line)));
    let Ok(reply) = reply else {
        c.answer(Err(format!(
            "{line}: failed inside shoal (a bug; see its standard error)"
        )));
        return;
    };
    match reply {
        Reply::Done(result) => c.answer(result),
        Reply::Stream(job) => {
            let (tx, rx) = mpsc::sync_channel(16);
            let gone = Arc::new(AtomicBool::new(false));
            let flag = gone.clone();
            let spawned = std::thread::Builder::new()
                .name("shoal-ctl-job".into())
                .spawn(move || {
                    let mut send = |bytes: &[u8]| {
                        !flag.load(Ordering::Relaxed)
                            && (bytes.is_empty() || tx.send(Chunk::Data(bytes.to_vec())).is_ok())
                    };
                    job(&mut send);
                    let _ = tx.send(Chunk::End);
                });
            match spawned {
                Ok(_) => c.job = Some((rx, gone)),
                Err(e) => c.answer(Err(format!("cannot start the job: {e}"))),
            }
        }
    }
}

/// Take what a long answer made so far, as long as the client keeps up.
fn collect(c: &mut Client) {
    let Some((rx, gone)) = &c.job else {
        return;
    };
    if c.gone {
        gone.store(true, Ordering::Relaxed);
        return;
    }
    loop {
        if c.output.len() > MAX_PENDING / 2 {
            // Let the client read first; the job waits on its full channel meanwhile.
            return;
        }
        match rx.try_recv() {
            Ok(Chunk::Data(bytes)) => {
                c.output
                    .extend(format!("data {}\n", bytes.len()).as_bytes());
                c.output.extend(bytes);
            }
            Ok(Chunk::End) | Err(TryRecvError::Disconnected) => {
                c.output.extend(b"end\n");
                c.job = None;
                return;
            }
            Err(TryRecvError::Empty) => return,
        }
    }
}

fn write(c: &mut Client) {
    while !c.output.is_empty() {
        let (head, _) = c.output.as_slices();
        match c.stream.write(head) {
            Ok(0) => {
                c.gone = true;
                return;
            }
            Ok(n) => {
                c.output.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                c.gone = true;
                return;
            }
        }
    }
}
