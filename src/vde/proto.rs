//! VDE's wire formats, sans-IO: the request a libvdeplug client sends on a switch's control
//! socket and the switch's answer (version 3, as vde2's `libvdeplug.c` and `datasock.c` and
//! vdeplug4's `libvdeplug_vde.c` write them), and the stream form `vde_plug` speaks on its
//! standard input and output (`vdestream_send`/`vdestream_recv`).
//!
//! The request is a packed C struct in the host's byte order:
//!
//! ```text
//! u32 magic 0xfeedface | u32 version 3 | u32 type: REQ_NEW_CONTROL (0) | port << 8
//! struct sockaddr_un (u16 family, 108 bytes of path): the client's data socket
//! description: up to 128 bytes, not NUL-terminated (the client sends strlen of it)
//! ```
//!
//! The switch answers with one `struct sockaddr_un` naming its own data socket for that port;
//! then each side sends one datagram per Ethernet frame to the other's data socket, and the
//! port lives as long as the control stream. The stream form is a two-byte big-endian length
//! followed by that many bytes of frame; libvdeplug sends no frame longer than 1521 bytes
//! (`MAXPACKET`) and loses its place in the stream when it receives one.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The first word of a request.
pub const MAGIC: u32 = 0xfeed_face;
/// The protocol version shoal speaks (and vde2's switches since 2.x).
pub const VERSION: u32 = 3;
/// Request types: a port (any, or the one in the type's upper bits), or port 0 (management).
pub const REQ_NEW_CONTROL: u32 = 0;
pub const REQ_NEW_PORT0: u32 = 1;
/// `sizeof(struct sockaddr_un)` on Linux: family and path.
pub const SOCKADDR_LEN: usize = 2 + PATH_LEN;
/// Bytes of `sun_path`.
pub const PATH_LEN: usize = 108;
/// The fixed part of a request: magic, version, type, the client's socket.
pub const REQUEST_LEN: usize = 12 + SOCKADDR_LEN;
/// Longest description a client sends (`MAXDESCR`).
pub const DESCRIPTION_MAX: usize = 128;
/// Most bytes a switch reads for a request (vde2's `REQBUFLEN`).
pub const REQUEST_MAX: usize = 256;
/// Longest frame the stream form carries: libvdeplug's `MAXPACKET` (1500 bytes of payload, an
/// Ethernet header, a VLAN tag and three bytes to spare).
pub const STREAM_FRAME_MAX: usize = 1521;
/// Shortest frame worth handing on: an Ethernet header (vde_switch drops shorter ones too).
pub const ETH_HEADER: usize = 14;

const AF_UNIX: u16 = 1;

/// A data socket's address as a request or answer carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockName {
    /// A socket in the file system (what libvdeplug binds: `SWITCH/.PID-N`).
    Path(PathBuf),
    /// A socket in Linux's abstract namespace: every byte after the leading NUL, as a switch
    /// connecting with the whole `sockaddr_un` names it.
    Abstract(Vec<u8>),
}

impl SockName {
    /// `struct sockaddr_un` of this name (family in host order, the path NUL-padded).
    /// `None` when the path does not fit.
    pub fn encode(&self) -> Option<[u8; SOCKADDR_LEN]> {
        let mut out = [0u8; SOCKADDR_LEN];
        out[..2].copy_from_slice(&AF_UNIX.to_ne_bytes());
        let bytes = match self {
            SockName::Path(p) => p.as_os_str().as_bytes(),
            SockName::Abstract(name) => {
                if name.len() >= PATH_LEN {
                    return None;
                }
                out[3..3 + name.len()].copy_from_slice(name);
                return Some(out);
            }
        };
        if bytes.is_empty() || bytes.len() >= PATH_LEN || bytes.contains(&0) {
            return None;
        }
        out[2..2 + bytes.len()].copy_from_slice(bytes);
        Some(out)
    }

    /// Read a `struct sockaddr_un`.
    pub fn decode(raw: &[u8]) -> Result<SockName, BadRequest> {
        let raw = raw
            .get(..SOCKADDR_LEN)
            .ok_or(BadRequest::Short(raw.len()))?;
        let family = u16::from_ne_bytes([raw[0], raw[1]]);
        if family != AF_UNIX {
            return Err(BadRequest::Family(family));
        }
        let path = &raw[2..];
        if path[0] == 0 {
            let name = &path[1..];
            if name.iter().all(|&b| b == 0) {
                return Err(BadRequest::NoSocket);
            }
            return Ok(SockName::Abstract(name.to_vec()));
        }
        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
        Ok(SockName::Path(PathBuf::from(std::ffi::OsStr::from_bytes(
            &path[..end],
        ))))
    }

    /// The path, for a socket in the file system.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SockName::Path(p) => Some(p),
            SockName::Abstract(_) => None,
        }
    }
}

/// A client's request for a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The port asked for; `None` for any free port.
    pub port: Option<u32>,
    /// The client's data socket, which the switch's data socket connects to.
    pub sock: SockName,
    /// What the client says it is (`vde_plug: user=me PID=42`).
    pub description: String,
}

/// Why a request is refused (the switch then closes the control stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadRequest {
    /// Fewer bytes than a request holds.
    #[error("a request of {0} bytes is too short")]
    Short(usize),
    /// The first word is not the magic number.
    #[error("magic {0:#x} is not 0xfeedface")]
    Magic(u32),
    /// A version other than 3.
    #[error("protocol version {0} (shoal speaks version 3)")]
    Version(u32),
    /// A request type other than a new port.
    #[error("request type {0} is not a new port")]
    Type(u32),
    /// The socket address is not a unix one.
    #[error("address family {0} is not AF_UNIX")]
    Family(u16),
    /// The request names no socket.
    #[error("the request names no data socket")]
    NoSocket,
}

impl Request {
    /// The request's bytes, as a client sends them (the description cut to 128 bytes).
    /// `None` when the socket's name does not fit a `sockaddr_un`.
    pub fn encode(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(REQUEST_LEN + DESCRIPTION_MAX);
        out.extend_from_slice(&MAGIC.to_ne_bytes());
        out.extend_from_slice(&VERSION.to_ne_bytes());
        let kind = REQ_NEW_CONTROL | (self.port.unwrap_or(0) << 8);
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&self.sock.encode()?);
        let d = self.description.as_bytes();
        out.extend_from_slice(&d[..d.len().min(DESCRIPTION_MAX)]);
        Some(out)
    }

    /// Read a request from the bytes received so far: `Ok(None)` while it is incomplete
    /// (fewer than its fixed part), an error once it cannot be one.
    pub fn decode(bytes: &[u8]) -> Result<Option<Request>, BadRequest> {
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        // Judge what has arrived as early as it can be judged: garbage is refused at once.
        if let Some(magic) = word(0)
            && magic != MAGIC
        {
            return Err(BadRequest::Magic(magic));
        }
        if let Some(version) = word(4)
            && version != VERSION
        {
            return Err(BadRequest::Version(version));
        }
        let Some(kind) = word(8) else {
            return Ok(None);
        };
        let port = match kind & 0xff {
            REQ_NEW_CONTROL => Some(kind >> 8).filter(|&p| p != 0),
            // Port 0 is vde_switch's management port; shoal has none, so any port will do.
            REQ_NEW_PORT0 => None,
            other => return Err(BadRequest::Type(other)),
        };
        if bytes.len() < REQUEST_LEN {
            return Ok(None);
        }
        let sock = SockName::decode(&bytes[12..REQUEST_LEN])?;
        let rest = &bytes[REQUEST_LEN..bytes.len().min(REQUEST_LEN + DESCRIPTION_MAX)];
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let description = String::from_utf8_lossy(&rest[..end]).into_owned();
        Ok(Some(Request {
            port,
            sock,
            description,
        }))
    }
}

/// What a stream decoder found that is not a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A whole frame.
    Frame(&'a [u8]),
    /// A length longer than a frame can be: the stream is not a VDE stream, or lost its
    /// place; what was buffered is thrown away, as libvdeplug does.
    Garbage(usize),
}

/// Cuts the `vde_plug` stream back into frames. Bytes go in through [`Decoder::spare`] and
/// [`Decoder::filled`]; whole records come out of [`Decoder::record`].
#[derive(Debug)]
pub struct Decoder {
    buf: Box<[u8]>,
    /// The first unread byte.
    head: usize,
    /// The end of what was read.
    tail: usize,
    /// Longest frame accepted.
    max: usize,
}

impl Decoder {
    /// A decoder accepting frames up to `max` bytes, buffering up to `room` bytes at once.
    pub fn new(max: usize, room: usize) -> Decoder {
        Decoder {
            buf: vec![0; room.max(max + 2)].into_boxed_slice(),
            head: 0,
            tail: 0,
            max,
        }
    }

    /// Room to read into, never empty: the free tail of the buffer, after moving unread bytes
    /// (less than a whole record) to the front. Tell [`Decoder::filled`] how much was read.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.head != 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
        &mut self.buf[self.tail..]
    }

    /// `n` bytes were read into the slice [`Decoder::spare`] gave.
    pub fn filled(&mut self, n: usize) {
        self.tail = (self.tail + n).min(self.buf.len());
    }

    /// Whether a whole record waits to be taken.
    pub fn ready(&self) -> bool {
        let rest = &self.buf[self.head..self.tail];
        match rest {
            [a, b, ..] => {
                let len = usize::from(u16::from_be_bytes([*a, *b]));
                len == 0 || len > self.max || rest.len() >= 2 + len
            }
            _ => false,
        }
    }

    /// The next record, if a whole one is buffered.
    pub fn record(&mut self) -> Option<Record<'_>> {
        loop {
            let rest = &self.buf[self.head..self.tail];
            if rest.len() < 2 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            if len == 0 {
                // vde_plug forwards the zero-length datagram libvdeplug sends when it closes.
                self.head += 2;
                continue;
            }
            if len > self.max {
                self.head = self.tail;
                return Some(Record::Garbage(len));
            }
            if rest.len() < 2 + len {
                return None;
            }
            let start = self.head + 2;
            self.head = start + len;
            return Some(Record::Frame(&self.buf[start..start + len]));
        }
    }
}

/// Append `frame` to `out` as one record of the stream form.
pub fn encode_record(frame: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
    out.extend_from_slice(frame);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as vde2's libvdeplug sends it for `vde_plug /tmp/sw` (x86-64: host order is
    /// little-endian), description cut where the client stopped.
    fn libvdeplug_request() -> Vec<u8> {
        let mut b = vec![0xce, 0xfa, 0xed, 0xfe, 3, 0, 0, 0, 0, 3, 0, 0, 1, 0];
        let mut path = b"/tmp/sw/.01234-00000".to_vec();
        path.resize(PATH_LEN, 0);
        b.extend_from_slice(&path);
        b.extend_from_slice(b"vde_plug: user=me PID=1234");
        b
    }

    #[test]
    fn a_libvdeplug_request_decodes() {
        let req = Request::decode(&libvdeplug_request()).unwrap().unwrap();
        assert_eq!(req.port, Some(3));
        assert_eq!(
            req.sock,
            SockName::Path("/tmp/sw/.01234-00000".into()),
            "the client's data socket"
        );
        assert_eq!(req.description, "vde_plug: user=me PID=1234");
        // And encodes back to the same bytes.
        assert_eq!(req.encode().unwrap(), libvdeplug_request());
    }

    #[test]
    fn a_request_arriving_in_pieces_waits_and_garbage_is_refused_early() {
        let whole = libvdeplug_request();
        for cut in [0, 3, 11, 12, 100, REQUEST_LEN - 1] {
            assert_eq!(Request::decode(&whole[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(Request::decode(&whole[..REQUEST_LEN]).unwrap().is_some());
        assert_eq!(
            Request::decode(b"GET / HTTP/1.1\r\n"),
            Err(BadRequest::Magic(u32::from_ne_bytes(*b"GET ")))
        );
        let mut v2 = whole.clone();
        v2[4] = 2;
        assert_eq!(Request::decode(&v2[..8]), Err(BadRequest::Version(2)));
        let mut kind = whole.clone();
        kind[8] = 7;
        assert_eq!(Request::decode(&kind), Err(BadRequest::Type(7)));
        let mut family = whole.clone();
        family[12] = 2;
        assert_eq!(Request::decode(&family), Err(BadRequest::Family(2)));
        let mut none = whole;
        none[14..14 + PATH_LEN].fill(0);
        assert_eq!(Request::decode(&none), Err(BadRequest::NoSocket));
    }

    #[test]
    fn socket_names_round_trip_and_abstract_ones_keep_every_byte() {
        let p = SockName::Path("/tmp/x/001.7".into());
        assert_eq!(SockName::decode(&p.encode().unwrap()).unwrap(), p);
        let a = SockName::Abstract(b"shoal".to_vec());
        let raw = a.encode().unwrap();
        assert_eq!(&raw[2..8], b"\0shoal");
        // A switch connects with the whole sockaddr_un: the name is all 107 bytes.
        let mut name = b"shoal".to_vec();
        name.resize(PATH_LEN - 1, 0);
        assert_eq!(SockName::decode(&raw).unwrap(), SockName::Abstract(name));
        assert!(
            SockName::Path("x".repeat(PATH_LEN).into())
                .encode()
                .is_none()
        );
    }

    #[test]
    fn the_stream_decoder_cuts_records_split_anywhere() {
        let frames: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![i; 14 + usize::from(i) * 7])
            .collect();
        let mut stream = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            encode_record(f, &mut stream);
            if i % 5 == 0 {
                // vde_plug forwards libvdeplug's zero-length goodbye as an empty record.
                stream.extend_from_slice(&[0, 0]);
            }
        }
        for step in [1, 2, 3, 7, 64, stream.len()] {
            let mut d = Decoder::new(MAX, 64);
            let mut got = Vec::new();
            for chunk in stream.chunks(step) {
                let mut fed = 0;
                while fed < chunk.len() {
                    let room = d.spare();
                    let n = room.len().min(chunk.len() - fed);
                    room[..n].copy_from_slice(&chunk[fed..fed + n]);
                    d.filled(n);
                    fed += n;
                    while let Some(r) = d.record() {
                        match r {
                            Record::Frame(f) => got.push(f.to_vec()),
                            Record::Garbage(n) => panic!("garbage {n}"),
                        }
                    }
                }
            }
            assert_eq!(got, frames, "fed {step} bytes at a time");
            assert!(!d.ready());
        }
    }

    const MAX: usize = 1792;

    #[test]
    fn an_impossible_length_is_garbage_and_the_buffer_goes() {
        let mut d = Decoder::new(MAX, 4096);
        let mut bytes = vec![0xff, 0xff, 1, 2, 3];
        encode_record(&[9; 20], &mut bytes);
        let room = d.spare();
        room[..bytes.len()].copy_from_slice(&bytes);
        d.filled(bytes.len());
        assert!(d.ready());
        assert_eq!(d.record(), Some(Record::Garbage(0xffff)));
        // libvdeplug drops what it had read with it; so does shoal.
        assert_eq!(d.record(), None);
        encode_record(&[7; 30], &mut bytes);
        let room = d.spare();
        room[..32].copy_from_slice(&bytes[bytes.len() - 32..]);
        d.filled(32);
        assert_eq!(d.record(), Some(Record::Frame(&[7; 30])));
    }
}
