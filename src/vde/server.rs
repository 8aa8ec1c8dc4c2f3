//! An interface that is a VDE switch of its own: it makes a control directory and takes
//! libvdeplug clients (`vde_plug DIR`, qemu's `-nic vde,sock=DIR`, a shoal interface with
//! `attach = { vde = DIR }`) as ports, as vde2's `vde_switch` does (`datasock.c`).
//!
//! The directory holds the control socket `ctl` (a listening unix stream socket) and one data
//! socket per port (`NNN.S`: port number, serial). A client connects to `ctl` and sends its
//! request naming its own data socket; the interface connects a new datagram socket to it,
//! binds it in the directory and answers with its name. From then on each frame is a
//! datagram, and the port lives as long as the client's control stream.
//!
//! All clients share the one interface, as the ports of a hub: a frame from a client goes to
//! the node and to every other client; a frame from the node to every client. A client is
//! dropped, and its reason counted ([`Unplug`]), when its control stream closes (`left`), when
//! it sends anything but one request (`garbage`), no request within two seconds (`silent`),
//! when its data socket cannot be reached (`unreachable`) or goes away (`gone`); a client
//! beyond the 64th is turned away (`full`). Nothing a client does stalls the worker or the
//! other clients: every socket is non-blocking, every buffer bounded.

use std::io::{self, Read};
use std::os::fd::{AsFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::proto::{REQUEST_MAX, Request, SockName};
use super::sys::{self, Poller, Ready};
use super::{Unplug, VdeError, VdeStats};
use crate::frame::{BATCH_MAX, Frame, Pool};

/// Most clients at once (vde_switch's default is 32 ports).
pub const CLIENTS_MAX: usize = 64;
/// Most connections waiting to send their request.
const WAITING_MAX: usize = 16;
/// How long a connection has to send its request.
const ASK_WITHIN: Duration = Duration::from_secs(2);

/// Token kinds, in the top byte of an epoll token; the rest is a serial number.
const LISTEN: u64 = 0;
const WAITING: u64 = 1 << 56;
const CTL: u64 = 2 << 56;
const DATA: u64 = 3 << 56;
const KIND: u64 = 0xff << 56;

/// A connection that has not sent its request yet.
struct Waiting {
    serial: u64,
    ctl: UnixStream,
    buf: Vec<u8>,
    since: Instant,
}

/// A client holding a port.
struct Peer {
    serial: u64,
    port: u32,
    ctl: UnixStream,
    data: UnixDatagram,
    /// This side's data socket, in the directory.
    ours: PathBuf,
    /// The client's data socket, when it is in the file system.
    theirs: Option<PathBuf>,
    description: String,
    /// Its data socket was reported readable.
    readable: bool,
}

/// A listening interface: a VDE switch of one interface.
pub struct Server {
    dir: PathBuf,
    listener: UnixListener,
    poller: Poller,
    waiting: Vec<Waiting>,
    peers: Vec<Peer>,
    serial: u64,
    stats: VdeStats,
    /// Scratch: ready events.
    ready: Vec<Ready>,
    /// Scratch: which peers to drop, and why.
    dead: Vec<(u64, Unplug)>,
    /// Peer to read first next time, so that a busy client does not starve the others.
    next: usize,
}

impl Server {
    /// Make the control directory `dir` (mode 0700, or use it if it exists) and listen on
    /// `dir/ctl`. A control socket nobody listens on (left by a process that was killed) is
    /// replaced; one somebody listens on is an error.
    pub fn open(dir: &Path) -> Result<Server, VdeError> {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                let e = io::Error::new(io::ErrorKind::AlreadyExists, "not a directory");
                return Err(VdeError::io("making a VDE control directory at", dir)(e));
            }
            Err(_) => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(VdeError::io("making a VDE control directory at", dir))?,
        }
        let dir = dir.canonicalize().map_err(VdeError::io("resolving", dir))?;
        let ctl = dir.join("ctl");
        if std::fs::symlink_metadata(&ctl).is_ok() {
            if UnixStream::connect(&ctl).is_ok() {
                return Err(VdeError::InUse(dir));
            }
            std::fs::remove_file(&ctl).map_err(VdeError::io("removing the stale", &ctl))?;
        }
        let listener = UnixListener::bind(&ctl).map_err(VdeError::io("listening on", &ctl))?;
        let poller = Poller::new().map_err(VdeError::io("epoll for", &ctl))?;
        listener
            .set_nonblocking(true)
            .and_then(|()| poller.add(listener.as_fd(), LISTEN, false))
            .map_err(VdeError::io("listening on", &ctl))?;
        Ok(Server {
            dir,
            listener,
            poller,
            waiting: Vec::new(),
            peers: Vec::new(),
            serial: 0,
            stats: VdeStats::default(),
            ready: Vec::with_capacity(BATCH_MAX),
            dead: Vec::new(),
            next: 0,
        })
    }

    /// Clients holding a port now.
    pub fn clients(&self) -> usize {
        self.peers.len()
    }

    /// Send `frames` to every client. A frame goes out when one client took it; it is refused
    /// only when every client's socket was full, and freed as unplugged when there is none.
    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>, refused: &mut Vec<Frame>) {
        if frames.is_empty() {
            return;
        }
        if self.peers.is_empty() {
            self.stats.unplugged += frames.len() as u64;
            frames.drain(..).for_each(|f| pool.free(f));
            return;
        }
        let mut took = Vec::with_capacity(self.peers.len());
        for p in &self.peers {
            match super::send_frames(p.data.as_fd(), pool, frames) {
                Ok(n) => took.push(n),
                Err(e) => {
                    took.push(0);
                    if super::peer_gone(&e) {
                        self.dead.push((p.serial, Unplug::Gone));
                    }
                }
            }
        }
        let most = took.iter().copied().max().unwrap_or(0);
        self.stats.missed += took.iter().map(|&n| (most - n) as u64).sum::<u64>();
        self.stats.tx += most as u64;
        for (k, frame) in frames.drain(..).enumerate() {
            if k < most {
                pool.free(frame);
            } else {
                self.stats.tx_full += 1;
                refused.push(frame);
            }
        }
        self.bury();
    }

    /// Accept clients, take their requests, and receive up to a batch of frames from them
    /// (each relayed to the other clients at once).
    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        let mut ready = std::mem::take(&mut self.ready);
        ready.clear();
        if self.poller.ready(&mut ready).is_err() {
            self.ready = ready;
            return 0;
        }
        let mut data_ready = false;
        for &Ready { token, .. } in &ready {
            match token & KIND {
                LISTEN => self.accept(),
                WAITING => self.hear(token & !KIND),
                CTL => self.listen_ctl(token & !KIND),
                DATA => {
                    let serial = token & !KIND;
                    if let Some(p) = self.peers.iter_mut().find(|p| p.serial == serial) {
                        p.readable = true;
                        data_ready = true;
                    }
                }
                _ => {}
            }
        }
        self.ready = ready;
        if data_ready {
            self.receive(pool, out);
        }
        if !self.waiting.is_empty() {
            self.expire();
        }
        self.bury();
        0
    }

    /// Take every connection waiting on the control socket.
    fn accept(&mut self) {
        loop {
            let ctl = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // ECONNABORTED, EMFILE and the like: leave the rest for the next look.
                Err(_) => return,
            };
            if self.peers.len() >= CLIENTS_MAX || self.waiting.len() >= WAITING_MAX {
                self.stats.unplugged_by[Unplug::Full as usize] += 1;
                continue;
            }
            self.serial += 1;
            let serial = self.serial;
            let added = ctl
                .set_nonblocking(true)
                .and_then(|()| self.poller.add(ctl.as_fd(), WAITING | serial, false));
            if added.is_ok() {
                self.waiting.push(Waiting {
                    serial,
                    ctl,
                    buf: Vec::with_capacity(REQUEST_MAX),
                    since: Instant::now(),
                });
            }
        }
    }

    /// Read what a waiting connection sent; give it a port once its request is whole.
    fn hear(&mut self, serial: u64) {
        let Some(k) = self.waiting.iter().position(|w| w.serial == serial) else {
            return;
        };
        let w = &mut self.waiting[k];
        let mut buf = [0u8; REQUEST_MAX];
        let room = REQUEST_MAX - w.buf.len();
        match w.ctl.read(&mut buf[..room.max(1)]) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // Closed before asking (a probe: is anybody listening?): not a client.
            Ok(0) | Err(_) => {
                self.waiting.swap_remove(k);
                return;
            }
            Ok(n) => w.buf.extend_from_slice(&buf[..n]),
        }
        match Request::decode(&w.buf) {
            Ok(None) if w.buf.len() < REQUEST_MAX => {}
            Ok(None) | Err(_) => {
                self.waiting.swap_remove(k);
                self.stats.unplugged_by[Unplug::Garbage as usize] += 1;
            }
            Ok(Some(req)) => {
                let w = self.waiting.swap_remove(k);
                self.poller.remove(w.ctl.as_fd());
                if let Err(why) = self.give_port(w.serial, w.ctl, req) {
                    self.stats.unplugged_by[why as usize] += 1;
                }
            }
        }
    }

    /// A port for a client that asked: a data socket connected to the client's, bound in
    /// the directory, named in the answer.
    fn give_port(&mut self, serial: u64, ctl: UnixStream, req: Request) -> Result<(), Unplug> {
        if self.peers.len() >= CLIENTS_MAX {
            return Err(Unplug::Full);
        }
        let taken = |p: u32| self.peers.iter().any(|x| x.port == p);
        let port = match req.port {
            Some(p) if !taken(p) => p,
            _ => (1..).find(|&p| !taken(p)).unwrap_or(1),
        };
        let ours = self.dir.join(format!("{port:03}.{serial}"));
        let _ = std::fs::remove_file(&ours);
        let data = UnixDatagram::bind(&ours).map_err(|_| Unplug::Unreachable)?;
        let connected = match &req.sock {
            SockName::Path(p) => data.connect(p),
            SockName::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|a| data.connect_addr(&a))
            }
        };
        let answer = SockName::Path(ours.clone()).encode();
        let set_up = connected
            .and_then(|()| data.set_nonblocking(true))
            .map_err(|_| Unplug::Unreachable)
            .and_then(|()| {
                // A fresh stream's buffer takes the 110-byte answer at once.
                let answer = answer.ok_or(Unplug::Unreachable)?;
                match sys::send_stream(ctl.as_fd(), &answer) {
                    Ok(n) if n == answer.len() => Ok(()),
                    _ => Err(Unplug::Gone),
                }
            })
            .and_then(|()| {
                self.poller
                    .add(ctl.as_fd(), CTL | serial, false)
                    .and_then(|()| self.poller.add(data.as_fd(), DATA | serial, false))
                    .map_err(|_| Unplug::Gone)
            });
        if let Err(why) = set_up {
            let _ = std::fs::remove_file(&ours);
            return Err(why);
        }
        self.stats.plugged += 1;
        let theirs = req.sock.path().map(Path::to_path_buf);
        self.peers.push(Peer {
            serial,
            port,
            ctl,
            data,
            ours,
            theirs,
            description: req.description,
            readable: false,
        });
        Ok(())
    }

    /// A client's control stream stirred: closed (it left) or spoke (garbage).
    fn listen_ctl(&mut self, serial: u64) {
        let Some(p) = self.peers.iter_mut().find(|p| p.serial == serial) else {
            return;
        };
        let mut buf = [0u8; 64];
        let why = match p.ctl.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Ok(0) => Unplug::Left,
            Ok(_) => Unplug::Garbage,
            Err(_) => Unplug::Gone,
        };
        self.dead.push((serial, why));
    }

    /// Receive up to a batch from the clients whose data sockets are readable, starting after
    /// the one read first last time; relay each client's frames to the others.
    fn receive(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) {
        let n = self.peers.len();
        let start = self.next % n.max(1);
        self.next = start + 1;
        for i in 0..n {
            let k = (start + i) % n;
            let budget = BATCH_MAX.saturating_sub(out.len());
            if budget == 0 {
                // The rest stay readable: the next look takes them first.
                self.next = k;
                break;
            }
            if !std::mem::take(&mut self.peers[k].readable) {
                continue;
            }
            let before = out.len();
            let fd = self.peers[k].data.as_fd();
            let (_, err) = super::recv_frames(fd, pool, budget, out, &mut self.stats);
            if let Some(e) = err
                && super::peer_gone(&e)
            {
                self.dead.push((self.peers[k].serial, Unplug::Gone));
            }
            if out.len() > before && n > 1 {
                self.relay(k, pool, &out[before..]);
            }
        }
        for p in &mut self.peers {
            p.readable = false;
        }
    }

    /// Hand the frames client `from` sent to every other client: the hub's copies, made by the
    /// kernel from the same buffers.
    fn relay(&mut self, from: usize, pool: &Pool, frames: &[Frame]) {
        for (k, p) in self.peers.iter().enumerate() {
            if k == from {
                continue;
            }
            match super::send_frames(p.data.as_fd(), pool, frames) {
                Ok(n) => {
                    self.stats.relayed += n as u64;
                    self.stats.missed += (frames.len() - n) as u64;
                }
                Err(e) => {
                    self.stats.missed += frames.len() as u64;
                    if super::peer_gone(&e) {
                        self.dead.push((p.serial, Unplug::Gone));
                    }
                }
            }
        }
    }

    /// Drop connections that sent no request in time.
    fn expire(&mut self) {
        let before = self.waiting.len();
        self.waiting.retain(|w| w.since.elapsed() < ASK_WITHIN);
        self.stats.unplugged_by[Unplug::Silent as usize] += (before - self.waiting.len()) as u64;
    }

    /// Free the ports of the clients found dead.
    fn bury(&mut self) {
        while let Some((serial, why)) = self.dead.pop() {
            if let Some(k) = self.peers.iter().position(|p| p.serial == serial) {
                let p = self.peers.swap_remove(k);
                self.stats.unplugged_by[why as usize] += 1;
                self.forget(p);
            }
        }
    }

    /// Close a client's sockets and remove their names: ours, and the client's own when it is
    /// in this directory (libvdeplug leaves it there when it is killed).
    fn forget(&self, p: Peer) {
        let _ = std::fs::remove_file(&p.ours);
        if let Some(theirs) = &p.theirs
            && theirs.parent() == Some(self.dir.as_path())
            && std::fs::symlink_metadata(theirs).is_ok_and(|m| m.file_type().is_socket())
        {
            let _ = std::fs::remove_file(theirs);
        }
    }

    pub fn wait_fd(&self) -> RawFd {
        self.poller.raw()
    }

    pub fn stats(&self) -> VdeStats {
        self.stats
    }

    /// `vde listen DIR: N clients (…)`, with what became of the others.
    pub fn describe(&self) -> String {
        let st = &self.stats;
        let mut s = format!(
            "vde listen {}: {} client{}",
            self.dir.display(),
            self.peers.len(),
            if self.peers.len() == 1 { "" } else { "s" }
        );
        let mut notes = vec![format!("{} plugged in", st.plugged)];
        for (why, n) in st.unplugs() {
            notes.push(format!("{n} {}", why.name()));
        }
        s.push_str(&format!(" ({})", notes.join(", ")));
        if st.relayed != 0 || st.missed != 0 {
            s.push_str(&format!(
                "; {} relayed between clients, {} copies missed (full sockets)",
                st.relayed, st.missed
            ));
        }
        if st.unplugged != 0 {
            s.push_str(&format!("; {} frames sent with no client", st.unplugged));
        }
        if st.rx_runt != 0 {
            s.push_str(&format!("; {} runts", st.rx_runt));
        }
        s
    }

    /// The clients holding a port: port number and what each said it is.
    pub fn ports(&self) -> impl Iterator<Item = (u32, &str)> {
        self.peers.iter().map(|p| (p.port, p.description.as_str()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for p in std::mem::take(&mut self.peers) {
            self.forget(p);
        }
        let _ = std::fs::remove_file(self.dir.join("ctl"));
        // Only an empty directory goes: anything else in it is somebody's.
        let _ = std::fs::remove_dir(&self.dir);
    }
}
