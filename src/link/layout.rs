//! The link file: its byte layout, creating and validating it, and claiming a member's block.
//!
//! Offsets (all little-endian, see docs/links.md): the header at 0, member block `m` at
//! `128 + 512 m`, rings from `header_len` (a whole number of pages), ring `m` written only by
//! member `m`.

use super::LinkError;
use super::sys::{self, Mapping};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;

pub const MAGIC: [u8; 8] = *b"SHOALLNK";
pub const VERSION: u32 = 1;
pub const KIND_P2P: u32 = 1;
pub const KIND_BUS: u32 = 2;

const OFF_VERSION: usize = 8;
const OFF_KIND: usize = 12;
const OFF_MEMBERS: usize = 16;
const OFF_SLOTS: usize = 20;
const OFF_FRAME_SIZE: usize = 24;
const OFF_HEADER_LEN: usize = 28;
const OFF_FILE_LEN: usize = 32;
const IDENT_LEN: usize = 40;

const BLOCK0: usize = 128;
const BLOCK: usize = 512;
/// Within a member block; each group on its own 128-byte line (two cache lines, so the
/// adjacent-line prefetcher does not make producer and consumer fight over one pair).
const B_OWNER: usize = 0;
const B_GENERATION: usize = 4;
const B_TAIL: usize = 128;
const B_HEAD: usize = 256;
const B_BELL_SEQ: usize = 384;
const B_BELL_SLEEPING: usize = 388;

const DESC: usize = 8;
const PAGE: usize = 4096;

/// Sizes of one direction of a link: `slots` frames of `frame_size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Ring slots per direction; a power of two, 2 ..= 2^20.
    pub slots: u32,
    /// Bytes per frame slot; a multiple of 64, 64 ..= 65536.
    pub frame_size: u32,
}

impl Default for LinkConfig {
    fn default() -> LinkConfig {
        LinkConfig {
            slots: 1024,
            frame_size: crate::frame::FRAME_SIZE as u32,
        }
    }
}

impl LinkConfig {
    fn check(&self) -> Result<(), LinkError> {
        if !self.slots.is_power_of_two() || !(2..=1 << 20).contains(&self.slots) {
            return Err(LinkError::Config(format!(
                "slots must be a power of two from 2 to 2^20, not {}",
                self.slots
            )));
        }
        if !self.frame_size.is_multiple_of(64) || !(64..=65536).contains(&self.frame_size) {
            return Err(LinkError::Config(format!(
                "frame_size must be a multiple of 64 from 64 to 65536, not {}",
                self.frame_size
            )));
        }
        Ok(())
    }
}

/// Which side of a point-to-point link to open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
    /// The first side that is free (or whose owner is dead).
    Any,
}

/// Where everything is, computed from validated sizes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub kind: u32,
    pub members: u32,
    pub cfg: LinkConfig,
    pub header_len: usize,
    pub desc_len: usize,
    pub ring_len: usize,
    pub file_len: usize,
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl Layout {
    pub fn new(kind: u32, members: u32, cfg: LinkConfig) -> Result<Layout, LinkError> {
        cfg.check()?;
        if !(2..=64).contains(&members) {
            return Err(LinkError::Config(format!(
                "members must be 2 to 64, not {members}"
            )));
        }
        let header_len = round_up(BLOCK0 + BLOCK * members as usize, PAGE);
        let desc_len = round_up(DESC * cfg.slots as usize, PAGE);
        let ring_len = desc_len + cfg.slots as usize * cfg.frame_size as usize;
        let file_len = header_len + ring_len * members as usize;
        Ok(Layout {
            kind,
            members,
            cfg,
            header_len,
            desc_len,
            ring_len,
            file_len,
        })
    }

    fn block(&self, m: u32) -> usize {
        BLOCK0 + BLOCK * m as usize
    }

    /// Offset of the frame in slot `slot` of ring `m`.
    #[inline(always)]
    pub fn frame_off(&self, m: u32, slot: u32) -> usize {
        self.header_len
            + self.ring_len * m as usize
            + self.desc_len
            + slot as usize * self.cfg.frame_size as usize
    }

    /// Offset of the descriptor (length word, then sequence word) of slot `slot` of ring `m`.
    #[inline(always)]
    pub fn desc_off(&self, m: u32, slot: u32) -> usize {
        self.header_len + self.ring_len * m as usize + slot as usize * DESC
    }

    fn describe(&self) -> String {
        let what = if self.kind == KIND_BUS {
            format!("a bus of {} members", self.members)
        } else {
            "a point-to-point link".to_string()
        };
        format!(
            "{what} with {} slots of {} bytes",
            self.cfg.slots, self.cfg.frame_size
        )
    }
}

/// The mapped file and its layout, shared by the endpoints that use one mapping.
///
/// Read on every frame by both sides; aligned so that no counter another thread writes can sit
/// on the same cache line (false sharing measured at up to 3x on the two-thread bench).
#[repr(align(128))]
pub struct Shared {
    pub map: Mapping,
    pub layout: Layout,
    pub path: PathBuf,
}

impl Shared {
    /// Create the file at `path` with this layout, or open and validate the one that is there.
    pub fn open(path: &Path, layout: Layout) -> Result<Shared, LinkError> {
        let io_err = |source: io::Error| LinkError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => create(path, layout)?,
            Err(e) => return Err(io_err(e)),
        };
        validate(&file, path, layout)?;
        let map = Mapping::new(&file, layout.file_len).map_err(io_err)?;
        Ok(Shared {
            map,
            layout,
            path: path.to_path_buf(),
        })
    }

    /// A fresh anonymous link in a memfd, for endpoints inside one process.
    pub fn memfd(layout: Layout) -> Result<Shared, LinkError> {
        let path = PathBuf::from("memfd:shoal-link");
        let io_err = |source| LinkError::Io {
            path: path.clone(),
            source,
        };
        let file = sys::memfd("shoal-link", layout.file_len as u64).map_err(io_err)?;
        let map = Mapping::new(&file, layout.file_len).map_err(io_err)?;
        write_header(&map, layout);
        Ok(Shared { map, layout, path })
    }

    #[inline]
    pub fn owner(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_OWNER)
    }
    #[inline]
    pub fn generation(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_GENERATION)
    }
    #[inline]
    pub fn tail(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_TAIL)
    }
    #[inline]
    pub fn head(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_HEAD)
    }
    #[inline]
    pub fn bell_seq(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_BELL_SEQ)
    }
    #[inline]
    pub fn bell_sleeping(&self, m: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.block(m) + B_BELL_SLEEPING)
    }
    #[inline]
    pub fn desc_len(&self, m: u32, slot: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.desc_off(m, slot))
    }
    #[inline]
    pub fn desc_seq(&self, m: u32, slot: u32) -> &AtomicU32 {
        self.map.u32_at(self.layout.desc_off(m, slot) + 4)
    }

    /// Claim member block `m` for this process: free, or held by a dead process (taken over).
    /// Returns the new generation. `Err(pid)` names the live holder.
    pub fn claim(&self, m: u32) -> Result<u32, u32> {
        let me = std::process::id();
        let owner = self.owner(m);
        loop {
            let cur = owner.load(Ordering::Acquire);
            if cur != 0 && (cur == me || sys::pid_alive(cur)) {
                return Err(cur);
            }
            // A dead owner may have died mid-write: nothing it wrote after its last publish is
            // visible, so taking the block over needs no repair beyond a new generation.
            if owner
                .compare_exchange(cur, me, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.bell_sleeping(m).store(0, Ordering::Relaxed);
                return Ok(self
                    .generation(m)
                    .fetch_add(1, Ordering::AcqRel)
                    .wrapping_add(1));
            }
        }
    }

    /// Give block `m` back (clean close).
    pub fn release(&self, m: u32) {
        let _ = self.owner(m).compare_exchange(
            std::process::id(),
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}

fn write_header(map: &Mapping, l: Layout) {
    map.write(0, &MAGIC);
    map.u32_at(OFF_VERSION).store(VERSION, Ordering::Relaxed);
    map.u32_at(OFF_KIND).store(l.kind, Ordering::Relaxed);
    map.u32_at(OFF_MEMBERS).store(l.members, Ordering::Relaxed);
    map.u32_at(OFF_SLOTS).store(l.cfg.slots, Ordering::Relaxed);
    map.u32_at(OFF_FRAME_SIZE)
        .store(l.cfg.frame_size, Ordering::Relaxed);
    map.u32_at(OFF_HEADER_LEN)
        .store(l.header_len as u32, Ordering::Relaxed);
    let len = l.file_len as u64;
    map.u32_at(OFF_FILE_LEN)
        .store(len as u32, Ordering::Relaxed);
    map.u32_at(OFF_FILE_LEN + 4)
        .store((len >> 32) as u32, Ordering::Relaxed);
    std::sync::atomic::fence(Ordering::Release);
}

/// Build the file beside `path` under a temporary name and hard-link it into place, so that
/// nobody ever opens a half-initialised file; losing the race to another creator is fine.
fn create(path: &Path, layout: Layout) -> Result<File, LinkError> {
    let io_err = |source| LinkError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".new.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let built = (|| -> io::Result<()> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.set_len(layout.file_len as u64)?;
        let map = Mapping::new(&f, layout.file_len)?;
        write_header(&map, layout);
        match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    built.map_err(io_err)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err)
}

fn validate(file: &File, path: &Path, want: Layout) -> Result<(), LinkError> {
    let bad = |what: String| LinkError::BadFile {
        path: path.to_path_buf(),
        what,
    };
    let io_err = |source| LinkError::Io {
        path: path.to_path_buf(),
        source,
    };
    let actual = file.metadata().map_err(io_err)?.len();
    let mut h = [0u8; IDENT_LEN];
    if actual < IDENT_LEN as u64 {
        return Err(bad(format!(
            "truncated: {actual} bytes, shorter than the {IDENT_LEN}-byte header"
        )));
    }
    file.read_exact_at(&mut h, 0).map_err(io_err)?;
    if h[..8] != MAGIC {
        return Err(bad(format!(
            "bad magic {:02x?} (expected {:?})",
            &h[..8],
            std::str::from_utf8(&MAGIC).unwrap_or("")
        )));
    }
    let word = |off: usize| u32::from_le_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]]);
    let version = word(OFF_VERSION);
    if version != VERSION {
        return Err(bad(format!(
            "format version {version}, this build reads version {VERSION}"
        )));
    }
    let kind = word(OFF_KIND);
    if kind != KIND_P2P && kind != KIND_BUS {
        return Err(bad(format!("unknown link kind {kind}")));
    }
    let found_cfg = LinkConfig {
        slots: word(OFF_SLOTS),
        frame_size: word(OFF_FRAME_SIZE),
    };
    let found = Layout::new(kind, word(OFF_MEMBERS), found_cfg).map_err(|e| bad(e.to_string()))?;
    if found != want {
        return Err(LinkError::Mismatch {
            path: path.to_path_buf(),
            found: found.describe(),
            wanted: want.describe(),
        });
    }
    let recorded = word(OFF_FILE_LEN) as u64 | (word(OFF_FILE_LEN + 4) as u64) << 32;
    if word(OFF_HEADER_LEN) as usize != want.header_len || recorded != want.file_len as u64 {
        return Err(bad("header records an inconsistent layout".to_string()));
    }
    if actual < want.file_len as u64 {
        return Err(bad(format!(
            "truncated: {actual} bytes, the layout needs {}",
            want.file_len
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_point_to_point_layout_matches_the_documented_offsets() {
        let l = Layout::new(KIND_P2P, 2, LinkConfig::default()).unwrap();
        assert_eq!((l.header_len, l.desc_len), (4096, 8192));
        assert_eq!(l.ring_len, 8192 + 1024 * 2048);
        assert_eq!(l.file_len, 4_214_784);
        assert_eq!(l.desc_off(1, 3), 4096 + l.ring_len + 24);
        assert_eq!(l.frame_off(0, 1), 4096 + 8192 + 2048);
        let bus = Layout::new(KIND_BUS, 16, LinkConfig::default()).unwrap();
        assert_eq!(bus.header_len, 12288);
    }

    #[test]
    fn bad_sizes_are_refused() {
        for (slots, frame_size) in [(1000, 2048), (1, 2048), (1 << 21, 2048), (64, 100), (64, 0)] {
            let cfg = LinkConfig { slots, frame_size };
            assert!(matches!(
                Layout::new(KIND_P2P, 2, cfg),
                Err(LinkError::Config(_))
            ));
        }
        assert!(Layout::new(KIND_BUS, 65, LinkConfig::default()).is_err());
    }
}
