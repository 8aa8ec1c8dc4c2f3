//! An interface plugged into a VDE switch, as libvdeplug plugs one (`vde_plug SWITCH`).
//!
//! Plugging in: connect to the switch's control socket `DIR/ctl`, bind a datagram socket
//! (`DIR/.PID-N`, as libvdeplug names it, or in the temporary directory when the switch's is
//! not writable), send the version 3 request naming it, read the switch's answer naming its
//! own data socket for the new port, connect to that, and remove the socket's name from the
//! file system (both sockets are connected; vdeplug4 does the same, so nothing is left
//! behind even after `kill -9`). The port lives as long as the control stream.
//!
//! The first plug is asked for when the engine starts, and a switch that is not there stops
//! the start; its answer, like every later one, is awaited by the worker. A switch that
//! refuses, or goes away later (its control stream closes, its data socket refuses) leaves the
//! interface unplugged — what it sends then is counted and freed — and the worker tries to
//! plug in again once a second, without blocking: the connect, the request and the answer
//! are steps of a small state machine driven by the medium's epoll set.

use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::proto::{Request, SOCKADDR_LEN, SockName};
use super::sys::{self, Poller, Ready};
use super::{Unplug, VdeError, VdeStats};
use crate::frame::{Frame, Pool};

/// How long a switch has to answer a request.
const ANSWER: Duration = Duration::from_secs(2);
/// How often an unplugged interface tries to plug in again.
const RETRY: Duration = Duration::from_secs(1);

const CTL: u64 = 1;
const DATA: u64 = 2;

/// A process-wide count for naming data sockets, as libvdeplug's `sockno`.
static SOCKNO: AtomicU32 = AtomicU32::new(0);

enum Link {
    /// Plugged in: the control stream and the connected data socket.
    Up { ctl: UnixStream, data: UnixDatagram },
    /// The request went out; the answer is awaited on `ctl`.
    Asking {
        ctl: UnixStream,
        data: UnixDatagram,
        ours: PathBuf,
        answer: Vec<u8>,
        since: Instant,
    },
    /// Not plugged in; try again at `retry`.
    Down { retry: Instant, why: String },
}

/// An interface plugged into a VDE switch.
pub struct Client {
    /// The switch's control directory, absolute (its data sockets' names are too).
    dir: PathBuf,
    port: Option<u32>,
    description: String,
    poller: Poller,
    link: Link,
    /// The switch's port, as its data socket's name says (`DIR/003.7` is port 3).
    switch_port: Option<u32>,
    stats: VdeStats,
}

impl Client {
    /// Plug into the switch at `dir`, on `port` if given; `name` (`node:iface`) goes into the
    /// description the switch shows (`vde$ port/print`). Connecting and sending the request
    /// happen now — no switch there is an error — and the answer is taken by the worker, so a
    /// switch in this same process (a shoal interface listening) can answer it.
    pub fn open(dir: &Path, port: Option<u32>, name: &str) -> Result<Client, VdeError> {
        let dir = dir
            .canonicalize()
            .map_err(VdeError::io("no VDE switch at", dir))?;
        let user = std::env::var("USER").unwrap_or_else(|_| "?".into());
        let description = format!("shoal {name} user={user} PID={}", std::process::id());
        let mut client = Client {
            dir,
            port,
            description,
            poller: Poller::new().map_err(VdeError::io("epoll for", name.to_owned()))?,
            link: Link::Down {
                retry: Instant::now(),
                why: String::new(),
            },
            switch_port: None,
            stats: VdeStats::default(),
        };
        let ctl = client.dir.join("ctl");
        client.retry().map_err(VdeError::io("plugging into", ctl))?;
        Ok(client)
    }

    /// Connect to the switch's control socket, bind a data socket and send the request.
    fn ask(&self) -> io::Result<(UnixStream, UnixDatagram, PathBuf)> {
        let ctl = sys::connect_stream(&self.dir.join("ctl"))?;
        let (data, ours) = bind_data(&self.dir)?;
        let request = Request {
            port: self.port,
            sock: SockName::Path(ours.clone()),
            description: self.description.clone(),
        };
        let sent = request
            .encode()
            .ok_or_else(|| io::Error::other("the data socket's name is too long"))
            .and_then(|bytes| {
                // A fresh stream's buffer takes the whole request at once.
                match sys::send_stream(ctl.as_fd(), &bytes)? {
                    n if n == bytes.len() => Ok(()),
                    _ => Err(io::Error::from(io::ErrorKind::WouldBlock)),
                }
            });
        if let Err(e) = sent {
            let _ = std::fs::remove_file(&ours);
            return Err(e);
        }
        Ok((ctl, data, ours))
    }

    /// The switch answered: connect to its data socket and go up.
    fn plugged(
        &mut self,
        ctl: UnixStream,
        data: UnixDatagram,
        ours: &Path,
        answer: &[u8],
    ) -> io::Result<()> {
        let connected = (|| {
            let theirs = SockName::decode(answer).map_err(io::Error::other)?;
            match &theirs {
                SockName::Path(p) => data.connect(p)?,
                SockName::Abstract(name) => {
                    use std::os::linux::net::SocketAddrExt;
                    data.connect_addr(&std::os::unix::net::SocketAddr::from_abstract_name(name)?)?
                }
            }
            data.set_nonblocking(true)?;
            ctl.set_nonblocking(true)?;
            self.poller.add(ctl.as_fd(), CTL, false)?;
            self.poller.add(data.as_fd(), DATA, false)?;
            Ok::<_, io::Error>(theirs)
        })();
        // Both sockets are connected (or this plug failed): the name is no longer needed.
        let _ = std::fs::remove_file(ours);
        let theirs = connected?;
        self.switch_port = theirs
            .path()
            .and_then(|p| p.file_name()?.to_str()?.split('.').next()?.parse().ok());
        self.stats.plugged += 1;
        self.link = Link::Up { ctl, data };
        Ok(())
    }

    /// The switch went away: unplug, and try again in a second.
    fn unplug(&mut self, why: String) {
        if matches!(self.link, Link::Up { .. }) {
            self.stats.unplugged_by[Unplug::Gone as usize] += 1;
        }
        if let Link::Asking { ours, .. } = &self.link {
            let _ = std::fs::remove_file(ours);
        }
        // Dropping the sockets closes them, which takes them out of the epoll set.
        self.link = Link::Down {
            retry: Instant::now() + RETRY,
            why,
        };
    }

    pub fn send(&mut self, pool: &mut Pool, frames: &mut Vec<Frame>, refused: &mut Vec<Frame>) {
        let sent = match &self.link {
            Link::Up { data, .. } => super::send_frames(data.as_fd(), pool, frames),
            _ => Ok(0),
        };
        let sent = match sent {
            Ok(n) => n,
            Err(e) => {
                if super::peer_gone(&e) {
                    self.unplug(format!("its data socket: {e}"));
                }
                0
            }
        };
        self.stats.tx += sent as u64;
        let up = matches!(self.link, Link::Up { .. });
        for (k, frame) in frames.drain(..).enumerate() {
            if k < sent {
                pool.free(frame);
            } else if up {
                self.stats.tx_full += 1;
                refused.push(frame);
            } else {
                self.stats.unplugged += 1;
                pool.free(frame);
            }
        }
    }

    pub fn recv(&mut self, pool: &mut Pool, out: &mut Vec<Frame>) -> usize {
        match &mut self.link {
            Link::Down { retry, .. } => {
                if Instant::now() >= *retry {
                    // A failure is recorded in the state: unplugged, and why.
                    let _ = self.retry();
                }
                return 0;
            }
            Link::Asking { since, .. } if since.elapsed() > ANSWER => {
                self.unplug("no answer within 2 s".into());
                return 0;
            }
            _ => {}
        }
        let mut ready = Vec::new();
        if let Err(e) = self.poller.ready(&mut ready) {
            self.unplug(format!("epoll: {e}"));
            return 0;
        }
        for Ready { token, .. } in ready {
            let mut lost: Option<String> = None;
            match (token, &mut self.link) {
                (CTL, Link::Up { ctl, .. }) => {
                    // The switch never speaks on the control stream after its answer: end
                    // of file, an error or anything else means the port is gone.
                    let mut byte = [0u8; 64];
                    lost = match ctl.read(&mut byte) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
                        Ok(0) => Some("the switch closed the control socket".into()),
                        Ok(_) => Some("the switch spoke on the control socket".into()),
                        Err(e) => Some(format!("control socket: {e}")),
                    };
                }
                (DATA, Link::Up { data, .. }) => {
                    let fd = data.as_fd();
                    let (_, err) = super::recv_frames(fd, pool, usize::MAX, out, &mut self.stats);
                    lost = err
                        .filter(super::peer_gone)
                        .map(|e| format!("its data socket: {e}"));
                }
                (CTL, Link::Asking { ctl, answer, .. }) => {
                    let mut buf = [0u8; SOCKADDR_LEN];
                    let want = SOCKADDR_LEN - answer.len();
                    match ctl.read(&mut buf[..want]) {
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Ok(0) => lost = Some("the switch refused the request".into()),
                        Ok(n) => answer.extend_from_slice(&buf[..n]),
                        Err(e) => lost = Some(format!("control socket: {e}")),
                    }
                }
                _ => {}
            }
            match lost {
                Some(why) => self.unplug(why),
                None => self.answered(),
            }
        }
        0
    }

    /// Try to plug in (again: the switch may be back): connect, send the request, and wait
    /// for the answer in the epoll set.
    fn retry(&mut self) -> io::Result<()> {
        let asked = self.ask().and_then(|(ctl, data, ours)| {
            if let Err(e) = self.poller.add(ctl.as_fd(), CTL, false) {
                let _ = std::fs::remove_file(&ours);
                return Err(e);
            }
            Ok((ctl, data, ours))
        });
        match asked {
            Ok((ctl, data, ours)) => {
                self.link = Link::Asking {
                    ctl,
                    data,
                    ours,
                    answer: Vec::with_capacity(SOCKADDR_LEN),
                    since: Instant::now(),
                };
                Ok(())
            }
            Err(e) => {
                self.unplug(e.to_string());
                Err(e)
            }
        }
    }

    /// If the whole answer is in, go up.
    fn answered(&mut self) {
        let complete =
            matches!(&self.link, Link::Asking { answer, .. } if answer.len() == SOCKADDR_LEN);
        if !complete {
            return;
        }
        let down = Link::Down {
            retry: Instant::now() + RETRY,
            why: String::new(),
        };
        if let Link::Asking {
            ctl,
            data,
            ours,
            answer,
            ..
        } = std::mem::replace(&mut self.link, down)
        {
            // The control stream was in the set while asking; `plugged` adds it again.
            self.poller.remove(ctl.as_fd());
            if let Err(e) = self.plugged(ctl, data, &ours, &answer) {
                self.unplug(format!("plugging in: {e}"));
            }
        }
    }

    pub fn wait_fd(&self) -> std::os::fd::RawFd {
        self.poller.raw()
    }

    pub fn stats(&self) -> VdeStats {
        self.stats
    }

    pub fn describe(&self) -> String {
        let mut s = format!("vde {}", self.dir.display());
        if let Some(p) = self.switch_port {
            s.push_str(&format!(" port {p}"));
        }
        match &self.link {
            Link::Up { .. } => {}
            Link::Asking { .. } => s.push_str(", plugging in again"),
            Link::Down { why, .. } => s.push_str(&format!(", unplugged ({why})")),
        }
        let st = &self.stats;
        let mut notes = Vec::new();
        if st.plugged > 1 {
            notes.push(format!("plugged in {} times", st.plugged));
        }
        if st.unplugged != 0 {
            notes.push(format!("{} frames sent while unplugged", st.unplugged));
        }
        if st.rx_runt != 0 {
            notes.push(format!("{} runts", st.rx_runt));
        }
        if !notes.is_empty() {
            s.push_str(&format!("; {}", notes.join(", ")));
        }
        s
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Link::Asking { ours, .. } = &self.link {
            let _ = std::fs::remove_file(ours);
        }
    }
}

/// A datagram socket bound in the switch's directory as libvdeplug binds it (`.PID-N`), or,
/// when that directory is not ours to write, in the temporary directory (`vde.PID-N`).
fn bind_data(dir: &Path) -> io::Result<(UnixDatagram, PathBuf)> {
    let pid = std::process::id();
    let tmp = std::env::temp_dir();
    let mut last = io::Error::other("no directory for a data socket");
    for (dir, prefix) in [(dir, "."), (tmp.as_path(), "vde.")] {
        for _ in 0..64 {
            let n = SOCKNO.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{prefix}{pid:05}-{n:05}"));
            match UnixDatagram::bind(&path) {
                Ok(sock) => return Ok((sock, path)),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
    }
    Err(last)
}
