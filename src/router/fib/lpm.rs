//! IPv4 longest-prefix match from `(prefix, len)` to a `u16` value, shaped after DXR (Zec, Rizzo,
//! Mikuc, "DXR: towards a billion routing lookups per second in software", 2012).
//!
//! The table keeps two forms of the same routes. The *exact store* holds every `(prefix, len)` and
//! is what `insert`, `remove`, `get` and `iter` work on. The *lookup form* is derived from it: the
//! address space cut into maximal ranges that share one answer, searched with a branchless binary
//! search. Small tables (at most [`SMALL_MAX`] prefixes) keep a single sorted range array with
//! `u32` starts, so a ten-route table costs a few hundred bytes. Large tables index the top 16
//! address bits directly; each of the 65,536 chunks is either a leaf answer or a slice of
//! `(u16 start, u16 value)` ranges in one shared array, so a lookup is one direct load plus a
//! short search inside a cache line or two. An update rebuilds only the chunks it touches.
//! Guarantees: `lookup` always equals the longest matching live prefix; no input makes any
//! method panic; prefix lengths above 32 are rejected (`insert` does nothing and returns `None`).
//! Background: RFC 1812 section 5.2.4.3 (longest match), RFC 4632 (CIDR).

use std::mem::size_of;

/// Largest table kept in the small form; above it the table switches to the chunked form.
pub const SMALL_MAX: usize = 1024;

/// Internal answer of a range: `0..=0xFFFF` is a value, `NONE` means no route covers it.
const NONE: u32 = 1 << 16;

/// Number of /16 chunks the large form indexes directly.
const CHUNKS: usize = 1 << 16;

/// Direct-table entry flags. A leaf carries its answer (a slot, 17 bits) in the low bits; a
/// chunk entry carries the index of its header in `Large::ranges`. `HAS_NONE` says the chunk's
/// header names an alias value that stands for "no route" inside this chunk, because a packed
/// range has only 16 bits for its answer.
const LEAF: u32 = 1 << 31;
const HAS_NONE: u32 = 1 << 30;
const BASE_MASK: u32 = HAS_NONE - 1;

/// How many independent lookups `lookup_batch` keeps in flight.
const LANES: usize = 8;

/// An IPv4 longest-prefix-match table with `u16` values (next-hop indices, typically).
#[derive(Clone)]
pub struct Lpm {
    repr: Repr,
    len: usize,
    /// The small form holds at most this many prefixes; the large form falls back to the small
    /// one at half of it, so a table hovering at the limit does not flip on every update.
    small_max: usize,
}

#[derive(Clone)]
enum Repr {
    Small(Small),
    // Boxed so that an idle router's table stays a few words wide.
    Large(Box<Large>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Route {
    prefix: u32,
    value: u16,
    len: u8,
}

/// The small form: routes sorted by `(prefix, len)` and ranges `(start, slot)` sorted by start.
#[derive(Clone, Default)]
struct Small {
    routes: Vec<Route>,
    ranges: Vec<(u32, u32)>,
}

/// A prefix of length 0..=16, keyed as `1 << len | top len bits`: the keys are unique and sort
/// by length first, which the full rebuild relies on.
#[derive(Clone, Copy)]
struct Short {
    key: u32,
    value: u16,
}

/// A prefix of length 17..=32 inside a known chunk.
#[derive(Clone, Copy)]
struct Long {
    low: u16,
    value: u16,
    len: u8,
}

/// Where one chunk's long prefixes live in `Large::long`.
#[derive(Clone, Copy, Default)]
struct Slot {
    off: u32,
    cnt: u32,
}

/// The large form. Both arenas (`ranges`, `long`) relocate a slice that grows by appending it
/// afresh and compact once more than half of them is garbage, so an update costs the size of
/// one chunk rather than of the table.
#[derive(Clone)]
struct Large {
    direct: Vec<u32>,
    /// Packed `start << 16 | value`, so "start <= key" is one compare against `key << 16 | 0xFFFF`.
    /// Each chunk's slice opens with a header `(count - 1) << 16 | alias`. Index 0 is a dummy
    /// that batch lookups of leaf chunks read harmlessly.
    ranges: Vec<u32>,
    ranges_garbage: usize,
    /// Prefixes of length 0..=16, sorted by key.
    short: Vec<Short>,
    /// Prefixes of length 17..=32, grouped by chunk and sorted by `(low, len)` within it.
    long: Vec<Long>,
    long_dir: Vec<Slot>,
    long_garbage: usize,
}

impl Default for Lpm {
    fn default() -> Lpm {
        Lpm::new()
    }
}

impl Lpm {
    /// An empty table; allocates nothing.
    pub fn new() -> Lpm {
        Lpm::with_small_max(SMALL_MAX)
    }

    /// Like [`Lpm::new`] with another small/large threshold; tests use 0 to force the large form.
    pub(crate) fn with_small_max(small_max: usize) -> Lpm {
        Lpm {
            repr: Repr::Small(Small::default()),
            len: 0,
            small_max,
        }
    }

    /// Number of prefixes in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds or replaces `prefix/len` (host byte order; bits below `len` are ignored) and returns
    /// the value it replaced. A `len` above 32 is not a prefix: nothing happens and the result
    /// is `None`.
    pub fn insert(&mut self, prefix: u32, len: u8, value: u16) -> Option<u16> {
        if len > 32 {
            return None;
        }
        let route = Route {
            prefix: prefix & net_mask(len),
            value,
            len,
        };
        let (old, promote) = match &mut self.repr {
            Repr::Small(s) => s.insert(route, self.len >= self.small_max),
            Repr::Large(l) => (l.insert(route), false),
        };
        if old.is_none() {
            self.len += 1;
        }
        if promote && let Repr::Small(s) = &mut self.repr {
            let routes = std::mem::take(&mut s.routes);
            self.repr = Repr::Large(Box::new(Large::from_sorted(&routes)));
        }
        old
    }

    /// Removes `prefix/len` (bits below `len` ignored) and returns its value.
    pub fn remove(&mut self, prefix: u32, len: u8) -> Option<u16> {
        if len > 32 {
            return None;
        }
        let prefix = prefix & net_mask(len);
        let old = match &mut self.repr {
            Repr::Small(s) => s.remove(prefix, len),
            Repr::Large(l) => l.remove(prefix, len),
        };
        if old.is_some() {
            self.len -= 1;
            if self.len <= self.small_max / 2 && matches!(self.repr, Repr::Large(_)) {
                let routes = sorted_routes(self.iter());
                self.repr = Repr::Small(Small::from_sorted(routes));
            }
        }
        old
    }

    /// The value stored for exactly `prefix/len` (bits below `len` ignored).
    pub fn get(&self, prefix: u32, len: u8) -> Option<u16> {
        if len > 32 {
            return None;
        }
        let prefix = prefix & net_mask(len);
        match &self.repr {
            Repr::Small(s) => s.find(prefix, len).ok().map(|i| s.routes[i].value),
            Repr::Large(l) => l.get(prefix, len),
        }
    }

    /// The value of the longest prefix containing `addr` (host byte order).
    #[inline(always)]
    pub fn lookup(&self, addr: u32) -> Option<u16> {
        self.view().lookup(addr)
    }

    /// The lookup form alone, for a caller that looks up many addresses in a row: the form is
    /// told apart once rather than per lookup.
    #[inline(always)]
    pub(crate) fn view(&self) -> View<'_> {
        View(match &self.repr {
            Repr::Small(s) => Form::Small(&s.ranges),
            Repr::Large(l) => Form::Large(l),
        })
    }

    /// `out[i] = self.lookup(addrs[i])` for every `i` below `min(addrs.len(), out.len())`.
    ///
    /// The large form walks `LANES` (8) lookups in lock step, so their cache misses overlap
    /// instead of queueing behind one another.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [Option<u16>]) {
        let n = addrs.len().min(out.len());
        let (addrs, out) = (&addrs[..n], &mut out[..n]);
        match &self.repr {
            Repr::Small(s) => {
                for (o, &a) in out.iter_mut().zip(addrs) {
                    *o = small_lookup(&s.ranges, a);
                }
            }
            Repr::Large(l) => {
                for (a, o) in addrs.chunks(LANES).zip(out.chunks_mut(LANES)) {
                    l.lookup_lanes(a, o);
                }
            }
        }
    }

    /// Inserts many routes with one rebuild at the end; later duplicates win, as with repeated
    /// `insert`. Routes with `len > 32` are skipped.
    pub fn extend(&mut self, routes: impl IntoIterator<Item = (u32, u8, u16)>) {
        let mut all: Vec<Route> = match &mut self.repr {
            Repr::Small(s) => std::mem::take(&mut s.routes),
            Repr::Large(l) => l
                .iter()
                .map(|(prefix, len, value)| Route { prefix, value, len })
                .collect(),
        };
        let old_len = all.len();
        all.extend(
            routes
                .into_iter()
                .filter(|&(_, len, _)| len <= 32)
                .map(|(p, len, value)| Route {
                    prefix: p & net_mask(len),
                    value,
                    len,
                }),
        );
        if all.len() == old_len {
            if let Repr::Small(s) = &mut self.repr {
                s.routes = all;
            }
            return;
        }
        let all = sorted_routes_vec(all);
        self.len = all.len();
        self.repr = if all.len() > self.small_max {
            Repr::Large(Box::new(Large::from_sorted(&all)))
        } else {
            Repr::Small(Small::from_sorted(all))
        };
    }

    /// Every `(prefix, len, value)` in the table, in no promised order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u8, u16)> + '_ {
        let (small, large) = match &self.repr {
            Repr::Small(s) => (
                Some(s.routes.iter().map(|r| (r.prefix, r.len, r.value))),
                None,
            ),
            Repr::Large(l) => (None, Some(l.iter())),
        };
        small
            .into_iter()
            .flatten()
            .chain(large.into_iter().flatten())
    }

    /// Heap bytes held by the table, counted from capacities: lookup form and exact store.
    pub fn mem_bytes(&self) -> usize {
        match &self.repr {
            Repr::Small(s) => {
                s.routes.capacity() * size_of::<Route>()
                    + s.ranges.capacity() * size_of::<(u32, u32)>()
            }
            Repr::Large(l) => l.mem_bytes(),
        }
    }
}

/// The network mask of a prefix length 0..=32.
fn net_mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

/// The last address of `prefix/len`.
fn last_addr(prefix: u32, len: u8) -> u32 {
    prefix | !net_mask(len)
}

fn slot_to_value(slot: u32) -> Option<u16> {
    if slot == NONE {
        None
    } else {
        Some(slot as u16)
    }
}

/// Sorts routes by `(prefix, len)` and keeps the last of each duplicate run, i.e. the most
/// recently given value.
fn sorted_routes_vec(mut v: Vec<Route>) -> Vec<Route> {
    v.sort_by_key(|r| (r.prefix, r.len)); // stable: duplicates keep their arrival order
    let mut w = 0;
    for i in 0..v.len() {
        if w > 0 && (v[w - 1].prefix, v[w - 1].len) == (v[i].prefix, v[i].len) {
            v[w - 1] = v[i];
        } else {
            v[w] = v[i];
            w += 1;
        }
    }
    v.truncate(w);
    v
}

fn sorted_routes(it: impl Iterator<Item = (u32, u8, u16)>) -> Vec<Route> {
    sorted_routes_vec(
        it.map(|(prefix, len, value)| Route { prefix, value, len })
            .collect(),
    )
}

/// Appends `(start, slot)` unless it continues the previous range's answer; a range that would
/// start where the previous one does replaces it.
fn emit(out: &mut Vec<(u32, u32)>, start: u32, slot: u32) {
    if out.last().is_some_and(|&(s, _)| s == start) {
        out.pop();
    }
    if out.last().is_none_or(|&(_, v)| v != slot) {
        out.push((start, slot));
    }
}

/// Writes into `out` the merged ranges covering `lo..=hi` for `default` overlaid with
/// `prefixes` `(first, last, slot)`, which must lie inside `lo..=hi`, be sorted by first address
/// and then by length (covering prefixes first), and be pairwise nested or disjoint.
fn sweep(
    lo: u32,
    hi: u32,
    default: u32,
    prefixes: impl Iterator<Item = (u32, u32, u32)>,
    out: &mut Vec<(u32, u32)>,
) {
    out.clear();
    emit(out, lo, default);
    // Open prefixes, innermost last: at most one per length plus the default.
    let mut stack = [(hi, default); 34];
    let mut depth = 1;
    for (first, last, slot) in prefixes {
        while depth > 1 && stack[depth - 1].0 < first {
            depth -= 1;
            emit(out, stack[depth].0 + 1, stack[depth - 1].1);
        }
        emit(out, first, slot);
        if depth < stack.len() {
            stack[depth] = (last, slot);
            depth += 1;
        }
    }
    while depth > 1 {
        depth -= 1;
        if stack[depth].0 < hi {
            emit(out, stack[depth].0 + 1, stack[depth - 1].1);
        }
    }
}

impl Small {
    fn from_sorted(routes: Vec<Route>) -> Small {
        let mut s = Small {
            routes,
            ranges: Vec::new(),
        };
        s.rebuild();
        s
    }

    fn find(&self, prefix: u32, len: u8) -> Result<usize, usize> {
        self.routes
            .binary_search_by_key(&(prefix, len), |r| (r.prefix, r.len))
    }

    /// Returns the replaced value and whether the table must turn large (the route was new and
    /// `full` said there is no room); in that case the route is in `routes` but not rebuilt.
    fn insert(&mut self, route: Route, full: bool) -> (Option<u16>, bool) {
        match self.find(route.prefix, route.len) {
            Ok(i) => {
                let old = self.routes[i].value;
                if old != route.value {
                    self.routes[i].value = route.value;
                    self.rebuild();
                }
                (Some(old), false)
            }
            Err(i) => {
                self.routes.insert(i, route);
                if !full {
                    self.rebuild();
                }
                (None, full)
            }
        }
    }

    fn remove(&mut self, prefix: u32, len: u8) -> Option<u16> {
        let i = self.find(prefix, len).ok()?;
        let old = self.routes.remove(i).value;
        if self.routes.is_empty() {
            self.routes = Vec::new();
        }
        self.rebuild();
        Some(old)
    }

    fn rebuild(&mut self) {
        if self.routes.is_empty() {
            self.ranges = Vec::new();
            return;
        }
        let prefixes = self
            .routes
            .iter()
            .map(|r| (r.prefix, last_addr(r.prefix, r.len), u32::from(r.value)));
        sweep(0, u32::MAX, NONE, prefixes, &mut self.ranges);
        // Pad to a power of two by repeating the last range, so `lookup` runs a fixed number of
        // halving steps; a repeated range answers what the original does.
        if let Some(&last) = self.ranges.last() {
            self.ranges
                .resize(self.ranges.len().next_power_of_two(), last);
        }
    }
}

/// The lookup form of an [`Lpm`], borrowed (see [`Lpm::view`]).
#[derive(Clone, Copy)]
pub(crate) struct View<'a>(Form<'a>);

#[derive(Clone, Copy)]
enum Form<'a> {
    /// The small form's ranges.
    Small(&'a [(u32, u32)]),
    Large(&'a Large),
}

impl View<'_> {
    /// The value of the longest prefix containing `addr`, as [`Lpm::lookup`].
    #[inline(always)]
    pub(crate) fn lookup(self, addr: u32) -> Option<u16> {
        match self.0 {
            Form::Small(ranges) => small_lookup(ranges, addr),
            Form::Large(l) => l.lookup(addr),
        }
    }
}

/// The small form's lookup over its ranges: the value of the last range starting at or below
/// `addr`.
#[inline(always)]
fn small_lookup(ranges: &[(u32, u32)], addr: u32) -> Option<u16> {
    // The last range starting at or below addr (r[0].0 == 0). `r.len()` is a power of two,
    // so both halves are equal and every step halves. Narrowing a slice (rather than
    // indexing `lo + step`) needs no bounds check and keeps the loop's few values in
    // registers inside the inlined fast path (11 fewer instructions per packet there).
    // LLVM compiles the `if` to a branch; forcing a conditional move
    // (`core::hint::select_unpredictable`) made the forwarding bench 20% slower, its
    // destinations being predictable (docs/lpm.md).
    let mut r = ranges;
    while r.len() > 1 {
        let half = r.len() / 2;
        r = if r[half].0 <= addr {
            &r[half..]
        } else {
            &r[..half]
        };
    }
    r.first().and_then(|&(_, slot)| slot_to_value(slot))
}

fn short_key(prefix: u32, len: u8) -> u32 {
    (1 << len) | prefix.checked_shr(32 - u32::from(len)).unwrap_or(0)
}

fn short_decode(key: u32) -> (u32, u8) {
    let len = 31 - key.leading_zeros();
    let bits = key & !(1 << len);
    (bits.checked_shl(32 - len).unwrap_or(0), len as u8)
}

/// Grows `v` to hold `extra` more without doubling: a table near its final size should not
/// carry up to 100% slack, and an eighth keeps appends amortised O(1).
fn reserve_some<T>(v: &mut Vec<T>, extra: usize) {
    if v.capacity() - v.len() < extra {
        v.reserve_exact(extra.max(v.len() / 8));
    }
}

impl Large {
    fn from_sorted(routes: &[Route]) -> Large {
        let mut short: Vec<Short> = routes
            .iter()
            .filter(|r| r.len <= 16)
            .map(|r| Short {
                key: short_key(r.prefix, r.len),
                value: r.value,
            })
            .collect();
        short.sort_unstable_by_key(|s| s.key);
        let mut long = Vec::with_capacity(routes.len() - short.len());
        let mut long_dir = vec![Slot::default(); CHUNKS];
        for r in routes.iter().filter(|r| r.len > 16) {
            let slot = &mut long_dir[(r.prefix >> 16) as usize];
            if slot.cnt == 0 {
                slot.off = long.len() as u32;
            }
            slot.cnt += 1;
            long.push(Long {
                low: r.prefix as u16,
                value: r.value,
                len: r.len,
            });
        }
        let mut l = Large {
            direct: vec![LEAF | NONE; CHUNKS],
            ranges: Vec::new(),
            ranges_garbage: 0,
            short,
            long,
            long_dir,
            long_garbage: 0,
        };
        l.rebuild_all();
        l
    }

    fn rebuild_all(&mut self) {
        // What each chunk inherits from prefixes of length <= 16; keys sort by length, so
        // longer prefixes overwrite the shorter ones they sit in.
        let mut inherit = vec![NONE; CHUNKS];
        for s in &self.short {
            let (prefix, len) = short_decode(s.key);
            let first = (prefix >> 16) as usize;
            let span = 1usize << (16 - len);
            inherit[first..first + span].fill(u32::from(s.value));
        }
        self.ranges = vec![0];
        self.ranges_garbage = 0;
        let mut scratch = Vec::new();
        for (c, &default) in inherit.iter().enumerate() {
            self.sweep_chunk(c as u32, default, &mut scratch);
            self.write_chunk(c, &scratch);
        }
        self.ranges.shrink_to_fit();
    }

    fn long_slice(&self, c: u32) -> &[Long] {
        let s = self.long_dir[c as usize];
        &self.long[s.off as usize..(s.off + s.cnt) as usize]
    }

    /// The answer chunk `c` inherits from the longest prefix of length <= 16 covering it.
    fn inherited(&self, c: u32) -> u32 {
        for len in (0..=16u32).rev() {
            let key = (1 << len) | (c >> (16 - len));
            if let Ok(i) = self.short.binary_search_by_key(&key, |s| s.key) {
                return u32::from(self.short[i].value);
            }
        }
        NONE
    }

    fn sweep_chunk(&self, c: u32, default: u32, out: &mut Vec<(u32, u32)>) {
        let lo = c << 16;
        let prefixes = self.long_slice(c).iter().map(|e| {
            let first = lo | u32::from(e.low);
            (first, last_addr(first, e.len), u32::from(e.value))
        });
        sweep(lo, lo | 0xFFFF, default, prefixes, out);
    }

    fn rebuild_chunk(&mut self, c: u32, scratch: &mut Vec<(u32, u32)>) {
        let default = self.inherited(c);
        self.sweep_chunk(c, default, scratch);
        self.write_chunk(c as usize, scratch);
    }

    /// Stores chunk `c`'s ranges (as made by `sweep`): a leaf when one answer covers it, else a
    /// header and packed ranges, in place when the old slice is big enough.
    fn write_chunk(&mut self, c: usize, ranges: &[(u32, u32)]) {
        let old = self.direct[c];
        let (old_base, old_total) = if old & LEAF != 0 {
            (0, 0)
        } else {
            let base = (old & BASE_MASK) as usize;
            (base, (self.ranges[base] >> 16) as usize + 2)
        };
        if ranges.len() <= 1 {
            self.direct[c] = LEAF | ranges.first().map_or(NONE, |r| r.1);
            self.ranges_garbage += old_total;
            return;
        }
        let has_none = ranges.iter().any(|r| r.1 == NONE);
        let alias = if has_none { pick_alias(ranges) } else { 0 };
        let total = ranges.len() + 1;
        let base = if old_total >= total {
            self.ranges_garbage += old_total - total;
            old_base
        } else {
            self.ranges_garbage += old_total;
            reserve_some(&mut self.ranges, total);
            let base = self.ranges.len();
            self.ranges.resize(base + total, 0);
            base
        };
        // A chunk has at most 65,536 ranges (one per address), so count - 1 fits in 16 bits.
        self.ranges[base] = ((ranges.len() - 1) as u32) << 16 | alias;
        for (dst, &(start, slot)) in self.ranges[base + 1..base + total].iter_mut().zip(ranges) {
            let value = if slot == NONE { alias } else { slot };
            *dst = (start & 0xFFFF) << 16 | value;
        }
        // Bases stay below 2^30: that many ranges would need far more routes than fit in memory.
        self.direct[c] = base as u32 | if has_none { HAS_NONE } else { 0 };
    }

    fn maybe_compact(&mut self) {
        if self.ranges_garbage > self.ranges.len() / 2 {
            let mut fresh = Vec::with_capacity(self.ranges.len() - self.ranges_garbage);
            fresh.push(0);
            for d in self.direct.iter_mut().filter(|d| **d & LEAF == 0) {
                let base = (*d & BASE_MASK) as usize;
                let total = (self.ranges[base] >> 16) as usize + 2;
                let new_base = fresh.len() as u32;
                fresh.extend_from_slice(&self.ranges[base..base + total]);
                *d = (*d & HAS_NONE) | new_base;
            }
            self.ranges = fresh;
            self.ranges_garbage = 0;
        }
        if self.long_garbage > self.long.len() / 2 {
            let mut fresh = Vec::with_capacity(self.long.len() - self.long_garbage);
            for s in self.long_dir.iter_mut().filter(|s| s.cnt != 0) {
                let off = fresh.len() as u32;
                fresh.extend_from_slice(&self.long[s.off as usize..(s.off + s.cnt) as usize]);
                s.off = off;
            }
            self.long = fresh;
            self.long_garbage = 0;
        }
    }

    fn find_long(&self, prefix: u32, len: u8) -> Result<usize, usize> {
        let key = (prefix as u16, len);
        self.long_slice(prefix >> 16)
            .binary_search_by_key(&key, |e| (e.low, e.len))
    }

    fn get(&self, prefix: u32, len: u8) -> Option<u16> {
        if len <= 16 {
            let key = short_key(prefix, len);
            let i = self.short.binary_search_by_key(&key, |s| s.key).ok()?;
            Some(self.short[i].value)
        } else {
            let i = self.find_long(prefix, len).ok()?;
            Some(self.long_slice(prefix >> 16)[i].value)
        }
    }

    fn insert(&mut self, r: Route) -> Option<u16> {
        let old = if r.len <= 16 {
            let key = short_key(r.prefix, r.len);
            match self.short.binary_search_by_key(&key, |s| s.key) {
                Ok(i) => Some(std::mem::replace(&mut self.short[i].value, r.value)),
                Err(i) => {
                    reserve_some(&mut self.short, 1);
                    self.short.insert(
                        i,
                        Short {
                            key,
                            value: r.value,
                        },
                    );
                    None
                }
            }
        } else {
            let c = (r.prefix >> 16) as usize;
            let entry = Long {
                low: r.prefix as u16,
                value: r.value,
                len: r.len,
            };
            match self.find_long(r.prefix, r.len) {
                Ok(i) => {
                    let at = self.long_dir[c].off as usize + i;
                    Some(std::mem::replace(&mut self.long[at].value, r.value))
                }
                Err(i) => {
                    let Slot { off, cnt } = self.long_dir[c];
                    let (off, cnt) = (off as usize, cnt as usize);
                    if off + cnt == self.long.len() {
                        // Last slice in the arena (always so while a chunk is filled in order).
                        reserve_some(&mut self.long, 1);
                        self.long.insert(off + i, entry);
                    } else {
                        reserve_some(&mut self.long, cnt + 1);
                        let new_off = self.long.len();
                        self.long.extend_from_within(off..off + i);
                        self.long.push(entry);
                        self.long.extend_from_within(off + i..off + cnt);
                        self.long_garbage += cnt;
                        self.long_dir[c].off = new_off as u32;
                    }
                    self.long_dir[c].cnt += 1;
                    None
                }
            }
        };
        if old != Some(r.value) {
            self.refresh(r.prefix, r.len);
        }
        old
    }

    fn remove(&mut self, prefix: u32, len: u8) -> Option<u16> {
        let old = if len <= 16 {
            let key = short_key(prefix, len);
            let i = self.short.binary_search_by_key(&key, |s| s.key).ok()?;
            self.short.remove(i).value
        } else {
            let i = self.find_long(prefix, len).ok()?;
            let c = (prefix >> 16) as usize;
            let Slot { off, cnt } = self.long_dir[c];
            let (off, cnt) = (off as usize, cnt as usize);
            let old = self.long[off + i].value;
            if off + cnt == self.long.len() {
                self.long.remove(off + i);
            } else {
                self.long.copy_within(off + i + 1..off + cnt, off + i);
                self.long_garbage += 1;
            }
            let slot = &mut self.long_dir[c];
            slot.cnt -= 1;
            if slot.cnt == 0 {
                // An empty slot must not keep an offset: a later removal from the arena's last
                // slice can shrink the arena below it, and even an empty slice past the end
                // cannot be taken.
                slot.off = 0;
            }
            old
        };
        self.refresh(prefix, len);
        Some(old)
    }

    /// Rebuilds the chunks whose answers may have changed after an update of `prefix/len`.
    fn refresh(&mut self, prefix: u32, len: u8) {
        let mut scratch = Vec::new();
        if len > 16 {
            self.rebuild_chunk(prefix >> 16, &mut scratch);
        } else {
            self.refresh_span(prefix >> 16, len, &mut scratch);
        }
        self.maybe_compact();
    }

    /// Rebuilds the chunks under the short prefix `first << 16 / len`, skipping those a longer
    /// short prefix covers: their answers cannot have changed.
    fn refresh_span(&mut self, first: u32, len: u8, scratch: &mut Vec<(u32, u32)>) {
        let count = 1usize << (16 - len);
        let last = first + count as u32 - 1;
        let mut shadowed = vec![false; count];
        for l in u32::from(len) + 1..=16 {
            let lo = self
                .short
                .partition_point(|s| s.key < (1 << l | first >> (16 - l)));
            let hi = self
                .short
                .partition_point(|s| s.key <= (1 << l | last >> (16 - l)));
            for s in &self.short[lo..hi] {
                let (p, l) = short_decode(s.key);
                let at = ((p >> 16) - first) as usize;
                shadowed[at..at + (1 << (16 - l))].fill(true);
            }
        }
        let default = (0..=len)
            .rev()
            .find_map(|l| {
                let key = short_key(first << 16, l);
                let i = self.short.binary_search_by_key(&key, |s| s.key).ok()?;
                Some(u32::from(self.short[i].value))
            })
            .unwrap_or(NONE);
        for (c, _) in (first..).zip(&shadowed).filter(|(_, s)| !**s) {
            self.sweep_chunk(c, default, scratch);
            self.write_chunk(c as usize, scratch);
        }
    }

    #[inline]
    fn lookup(&self, addr: u32) -> Option<u16> {
        let d = self.direct[(addr >> 16) as usize];
        if d & LEAF != 0 {
            return slot_to_value(d & !LEAF);
        }
        let base = (d & BASE_MASK) as usize;
        let header = self.ranges[base];
        let key = addr << 16 | 0xFFFF;
        let (mut lo, mut n) = (base + 1, (header >> 16) as usize + 1);
        while n > 1 {
            let half = n / 2;
            if self.ranges[lo + half] <= key {
                lo += half;
            }
            n -= half;
        }
        let value = self.ranges[lo] & 0xFFFF;
        if d & HAS_NONE != 0 && value == header & 0xFFFF {
            None
        } else {
            Some(value as u16)
        }
    }

    /// Up to `LANES` lookups in lock step: each stage issues all its independent loads before
    /// any result is needed. Leaf lanes search the one-entry dummy at index 0.
    #[inline]
    fn lookup_lanes(&self, addrs: &[u32], out: &mut [Option<u16>]) {
        let mut key = [0u32; LANES];
        let mut d = [LEAF | NONE; LANES];
        for (k, &a) in key.iter_mut().zip(addrs) {
            *k = a;
        }
        for i in 0..LANES {
            d[i] = self.direct[(key[i] >> 16) as usize];
            key[i] = key[i] << 16 | 0xFFFF;
        }
        let mut header = [0u32; LANES];
        let mut lo = [0usize; LANES];
        let mut n = [1usize; LANES];
        for i in 0..LANES {
            if d[i] & LEAF == 0 {
                let base = (d[i] & BASE_MASK) as usize;
                header[i] = self.ranges[base];
                lo[i] = base + 1;
                n[i] = (header[i] >> 16) as usize + 1;
            }
        }
        // Every lane's length follows n -> n - n/2 like the longest one does, so stepping until
        // the longest reaches 1 finishes all of them; finished lanes step by zero.
        let mut most = n.iter().copied().max().unwrap_or(1);
        while most > 1 {
            most -= most / 2;
            for i in 0..LANES {
                let half = n[i] / 2;
                if self.ranges[lo[i] + half] <= key[i] {
                    lo[i] += half;
                }
                n[i] -= half;
            }
        }
        for (i, o) in out.iter_mut().enumerate().take(LANES) {
            *o = if d[i] & LEAF != 0 {
                slot_to_value(d[i] & !LEAF)
            } else {
                let value = self.ranges[lo[i]] & 0xFFFF;
                if d[i] & HAS_NONE != 0 && value == header[i] & 0xFFFF {
                    None
                } else {
                    Some(value as u16)
                }
            };
        }
    }

    fn iter(&self) -> impl Iterator<Item = (u32, u8, u16)> + '_ {
        let short = self.short.iter().map(|s| {
            let (prefix, len) = short_decode(s.key);
            (prefix, len, s.value)
        });
        let long = (0..CHUNKS as u32).flat_map(move |c| {
            self.long_slice(c)
                .iter()
                .map(move |e| (c << 16 | u32::from(e.low), e.len, e.value))
        });
        short.chain(long)
    }

    fn mem_bytes(&self) -> usize {
        size_of::<Large>()
            + self.direct.capacity() * size_of::<u32>()
            + self.ranges.capacity() * size_of::<u32>()
            + self.short.capacity() * size_of::<Short>()
            + self.long.capacity() * size_of::<Long>()
            + self.long_dir.capacity() * size_of::<Slot>()
    }
}

/// A 16-bit value no range of the chunk uses, to stand for "no route" in it. One exists because
/// a chunk has at most 65,536 ranges and one of them is "no route".
fn pick_alias(ranges: &[(u32, u32)]) -> u32 {
    if !ranges.iter().any(|r| r.1 == 0xFFFF) {
        return 0xFFFF;
    }
    let mut used: Vec<u32> = ranges.iter().map(|r| r.1).filter(|&v| v != NONE).collect();
    used.sort_unstable();
    used.dedup();
    used.iter()
        .zip(0u32..)
        .find(|&(&v, i)| v != i)
        .map_or(used.len() as u32, |(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
        u32::from_be_bytes([a, b, c, d])
    }

    /// Longest live prefix containing `addr`, by brute force.
    fn naive(routes: &BTreeMap<(u32, u8), u16>, addr: u32) -> Option<u16> {
        routes
            .iter()
            .filter(|&(&(p, len), _)| addr & net_mask(len) == p)
            .max_by_key(|&(&(_, len), _)| len)
            .map(|(_, &v)| v)
    }

    /// Checks every query form against the reference on `addrs` plus the edges of a sample of
    /// the prefixes (first and last address, and one beyond each).
    fn check(t: &Lpm, routes: &BTreeMap<(u32, u8), u16>, addrs: &[u32]) {
        assert_eq!(t.len(), routes.len());
        assert_eq!(t.is_empty(), routes.is_empty());
        let step = (routes.len() / 64).max(1);
        let mut all = addrs.to_vec();
        for &(p, len) in routes.keys().step_by(step) {
            let last = last_addr(p, len);
            all.extend([p, last, p.wrapping_sub(1), last.wrapping_add(1)]);
        }
        let mut batch = vec![Some(0xdead); all.len()];
        t.lookup_batch(&all, &mut batch);
        for (&a, &b) in all.iter().zip(&batch) {
            let want = naive(routes, a);
            assert_eq!(t.lookup(a), want, "lookup {a:#010x}");
            assert_eq!(b, want, "lookup_batch {a:#010x}");
        }
        for (&(p, len), &v) in routes.iter().step_by(step) {
            assert_eq!(t.get(p, len), Some(v));
            assert_eq!(
                t.get(p | !net_mask(len), len),
                Some(v),
                "get ignores host bits"
            );
        }
        let mut listed: Vec<_> = t.iter().collect();
        listed.sort_unstable();
        let want: Vec<_> = routes.iter().map(|(&(p, l), &v)| (p, l, v)).collect();
        assert_eq!(listed, want);
    }

    fn apply(t: &mut Lpm, routes: &mut BTreeMap<(u32, u8), u16>, op: Op) {
        match op {
            Op::Insert(p, len, v) => {
                let key = (p & net_mask(len), len);
                assert_eq!(t.insert(p, len, v), routes.insert(key, v));
            }
            Op::Remove(p, len) => {
                let key = (p & net_mask(len), len);
                assert_eq!(t.remove(p, len), routes.remove(&key));
            }
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Op {
        Insert(u32, u8, u16),
        Remove(u32, u8),
    }

    /// Lengths weighted towards the chunk boundary and the extremes, addresses drawn near a few
    /// bases so prefixes nest and collide, values from a small set so ranges merge.
    fn op() -> impl Strategy<Value = Op> {
        let len = prop_oneof![0u8..=32, 14u8..=18, Just(0u8), Just(32u8), 22u8..=26];
        let base = prop_oneof![
            Just(0u32),
            Just(0x0a00_0000),
            Just(0xc0a8_0000),
            Just(u32::MAX)
        ];
        let addr = prop_oneof![
            any::<u32>(),
            (base, 0u32..0x4_0000).prop_map(|(b, o)| b ^ o)
        ];
        let value = prop_oneof![0u16..4, any::<u16>(), Just(0xffff)];
        prop_oneof![
            3 => (addr.clone(), len.clone(), value).prop_map(|(p, l, v)| Op::Insert(p, l, v)),
            1 => (addr, len).prop_map(|(p, l)| Op::Remove(p, l)),
        ]
    }

    #[test]
    fn empty_table_answers_none_and_allocates_nothing() {
        let t = Lpm::new();
        assert_eq!(t.mem_bytes(), 0);
        assert!(t.is_empty());
        assert_eq!(t.lookup(0), None);
        assert_eq!(t.lookup(u32::MAX), None);
        assert_eq!(t.get(0, 0), None);
        assert_eq!(t.iter().count(), 0);
        let mut out = [Some(1); 3];
        t.lookup_batch(&[1, 2, 3], &mut out);
        assert_eq!(out, [None; 3]);
        assert_eq!(Lpm::default().mem_bytes(), 0);
    }

    #[test]
    fn default_route_and_host_route() {
        for small_max in [SMALL_MAX, 0] {
            let mut t = Lpm::with_small_max(small_max);
            t.insert(0, 0, 7);
            t.insert(ip(10, 1, 2, 3), 32, 9);
            assert_eq!(t.lookup(0), Some(7));
            assert_eq!(t.lookup(u32::MAX), Some(7));
            assert_eq!(t.lookup(ip(10, 1, 2, 3)), Some(9));
            assert_eq!(t.lookup(ip(10, 1, 2, 2)), Some(7));
            assert_eq!(t.lookup(ip(10, 1, 2, 4)), Some(7));
            t.insert(u32::MAX, 32, 1);
            assert_eq!(t.lookup(u32::MAX), Some(1));
            assert_eq!(t.lookup(u32::MAX - 1), Some(7));
        }
    }

    #[test]
    fn nested_prefixes_pick_the_longest() {
        for small_max in [SMALL_MAX, 0] {
            let mut t = Lpm::with_small_max(small_max);
            t.insert(ip(10, 0, 0, 0), 8, 1);
            t.insert(ip(10, 1, 0, 0), 16, 2);
            t.insert(ip(10, 1, 2, 0), 24, 3);
            t.insert(ip(10, 1, 2, 128), 25, 4);
            assert_eq!(t.lookup(ip(10, 9, 9, 9)), Some(1));
            assert_eq!(t.lookup(ip(10, 1, 9, 9)), Some(2));
            assert_eq!(t.lookup(ip(10, 1, 2, 127)), Some(3));
            assert_eq!(t.lookup(ip(10, 1, 2, 128)), Some(4));
            assert_eq!(t.lookup(ip(10, 1, 3, 0)), Some(2));
            assert_eq!(t.lookup(ip(11, 0, 0, 0)), None);
            assert_eq!(t.lookup(ip(9, 255, 255, 255)), None);
        }
    }

    #[test]
    fn replace_returns_old_value_and_masks_host_bits() {
        let mut t = Lpm::new();
        assert_eq!(t.insert(ip(192, 168, 1, 77), 24, 1), None);
        assert_eq!(t.insert(ip(192, 168, 1, 0), 24, 2), Some(1));
        assert_eq!(t.len(), 1);
        assert_eq!(t.get(ip(192, 168, 1, 200), 24), Some(2));
        assert_eq!(t.iter().collect::<Vec<_>>(), [(ip(192, 168, 1, 0), 24, 2)]);
    }

    #[test]
    fn remove_restores_the_covering_route() {
        for small_max in [SMALL_MAX, 0] {
            let mut t = Lpm::with_small_max(small_max);
            t.insert(ip(10, 0, 0, 0), 8, 1);
            t.insert(ip(10, 1, 2, 0), 24, 2);
            t.insert(ip(10, 0, 0, 0), 12, 3);
            assert_eq!(t.lookup(ip(10, 1, 2, 3)), Some(2));
            assert_eq!(t.remove(ip(10, 1, 2, 0), 24), Some(2));
            assert_eq!(t.lookup(ip(10, 1, 2, 3)), Some(3));
            assert_eq!(t.remove(ip(10, 1, 2, 0), 24), None);
            assert_eq!(t.remove(ip(10, 0, 0, 0), 12), Some(3));
            assert_eq!(t.lookup(ip(10, 1, 2, 3)), Some(1));
            assert_eq!(t.remove(ip(10, 0, 0, 0), 8), Some(1));
            assert_eq!(t.lookup(ip(10, 1, 2, 3)), None);
            assert!(t.is_empty());
        }
    }

    #[test]
    fn short_prefixes_span_many_chunks() {
        let mut t = Lpm::with_small_max(0);
        t.insert(ip(10, 0, 0, 0), 8, 1); // 256 chunks
        t.insert(ip(10, 64, 0, 0), 10, 2); // 64 of them
        t.insert(ip(10, 64, 5, 0), 24, 3); // inside one chunk of the /10
        assert_eq!(t.lookup(ip(10, 0, 0, 0)), Some(1));
        assert_eq!(t.lookup(ip(10, 63, 255, 255)), Some(1));
        assert_eq!(t.lookup(ip(10, 64, 0, 0)), Some(2));
        assert_eq!(t.lookup(ip(10, 64, 5, 9)), Some(3));
        assert_eq!(t.lookup(ip(10, 127, 255, 255)), Some(2));
        assert_eq!(t.lookup(ip(10, 128, 0, 0)), Some(1));
        assert_eq!(t.lookup(ip(10, 255, 255, 255)), Some(1));
        assert_eq!(t.lookup(ip(11, 0, 0, 0)), None);
        t.insert(ip(10, 0, 0, 0), 8, 4);
        assert_eq!(t.lookup(ip(10, 200, 0, 0)), Some(4));
        assert_eq!(
            t.lookup(ip(10, 100, 0, 0)),
            Some(2),
            "the /10 still shadows the /8"
        );
        assert_eq!(t.lookup(ip(10, 64, 5, 255)), Some(3));
        t.remove(ip(10, 64, 0, 0), 10);
        assert_eq!(t.lookup(ip(10, 100, 0, 0)), Some(4));
        assert_eq!(t.lookup(ip(10, 64, 5, 255)), Some(3));
        assert_eq!(t.lookup(ip(10, 64, 6, 0)), Some(4));
    }

    #[test]
    fn crosses_the_small_large_threshold_both_ways() {
        let mut t = Lpm::new();
        let mut routes = BTreeMap::new();
        let addrs: Vec<u32> = (0..512u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        t.insert(0, 0, 0xffff);
        routes.insert((0, 0), 0xffff);
        let route = |i: u32| {
            (
                i.wrapping_mul(0x0101_0ac7) & 0xffff_ff00,
                16 + (i % 9) as u8,
            )
        };
        for i in 0..SMALL_MAX as u32 + 10 {
            let (p, len) = route(i);
            let key = (p & net_mask(len), len);
            assert_eq!(t.insert(p, len, i as u16), routes.insert(key, i as u16));
            if t.len() == SMALL_MAX || t.len() == SMALL_MAX + 1 {
                check(&t, &routes, &addrs);
            }
        }
        assert!(matches!(t.repr, Repr::Large(_)));
        check(&t, &routes, &addrs);
        let keys: Vec<_> = routes.keys().copied().collect();
        for &(p, len) in &keys[1..] {
            assert_eq!(t.remove(p, len), routes.remove(&(p, len)));
            if t.len() == SMALL_MAX / 2 + 1 || t.len() == SMALL_MAX / 2 {
                check(&t, &routes, &addrs);
            }
        }
        assert!(matches!(t.repr, Repr::Small(_)));
        check(&t, &routes, &addrs);
        assert_eq!(t.lookup(12345), Some(0xffff));
    }

    #[test]
    fn lengths_above_32_are_rejected() {
        let mut t = Lpm::new();
        assert_eq!(t.insert(1, 33, 5), None);
        assert_eq!(t.insert(1, u8::MAX, 5), None);
        assert!(t.is_empty());
        assert_eq!(t.mem_bytes(), 0);
        t.insert(1, 32, 5);
        assert_eq!(t.get(1, 33), None);
        assert_eq!(t.remove(1, 33), None);
        t.extend([(2, 40, 1), (3, 32, 2)]);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(2), None);
    }

    #[test]
    fn ten_route_table_stays_under_two_kib() {
        let mut t = Lpm::new();
        for i in 0..10u32 {
            t.insert(i << 24 | 0x0001_0000, 16 + i as u8, i as u16);
        }
        assert_eq!(t.len(), 10);
        assert!(t.mem_bytes() <= 2048, "{} bytes", t.mem_bytes());
        let mut bulk = Lpm::new();
        bulk.extend(t.iter());
        assert!(bulk.mem_bytes() <= 2048, "{} bytes", bulk.mem_bytes());
    }

    #[test]
    fn value_ffff_coexists_with_no_route_in_one_chunk() {
        // Every value but one is used in a chunk that also has holes, so the alias for "no route"
        // must be that one value.
        let mut routes = BTreeMap::new();
        for v in (0..=u16::MAX).filter(|&v| v != 1234 && v % 2 == 0) {
            routes.insert((0x0a0a_0000 | u32::from(v), 32), v);
        }
        for v in (1..=u16::MAX).step_by(2).filter(|&v| v != 1235) {
            routes.insert((0x0a0b_0000 | u32::from(v), 32), v);
        }
        let mut t = Lpm::new();
        t.extend(routes.iter().map(|(&(p, l), &v)| (p, l, v)));
        // One more insert and remove rebuild the big chunk incrementally too.
        t.insert(0x0a0a_0001, 32, 1);
        routes.insert((0x0a0a_0001, 32), 1);
        t.remove(0x0a0a_0001, 32);
        routes.remove(&(0x0a0a_0001, 32));
        let addrs: Vec<u32> = (0..300).map(|i| 0x0a0a_0000 + i * 217).collect();
        check(&t, &routes, &addrs);
        assert_eq!(t.lookup(0x0a0a_0000 | 1234), None);
        assert_eq!(t.lookup(0x0a0a_0001), None);
        assert_eq!(t.lookup(0x0a0a_fffe), Some(0xfffe));
        assert_eq!(t.lookup(0x0a0b_ffff), Some(0xffff));
    }

    #[test]
    fn extend_keeps_the_last_duplicate_and_matches_inserts() {
        let routes: Vec<(u32, u8, u16)> = (0..3000u32)
            .map(|i| (i.wrapping_mul(0x2545_f491), (i % 33) as u8, (i % 7) as u16))
            .collect();
        let mut one = Lpm::new();
        for &(p, l, v) in &routes {
            one.insert(p, l, v);
        }
        let mut bulk = Lpm::new();
        bulk.extend(routes[..100].iter().copied());
        bulk.extend(routes[100..].iter().copied());
        let mut a: Vec<_> = one.iter().collect();
        let mut b: Vec<_> = bulk.iter().collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        for i in 0..5000u32 {
            let addr = i.wrapping_mul(0x9e37_79b9);
            assert_eq!(one.lookup(addr), bulk.lookup(addr));
        }
    }

    #[test]
    fn lookup_batch_handles_uneven_lengths() {
        let mut t = Lpm::with_small_max(0);
        t.insert(ip(10, 0, 0, 0), 8, 1);
        t.insert(ip(10, 0, 0, 0), 24, 2);
        let addrs: Vec<u32> = (0..37).map(|i| ip(10, 0, 0, 0) + i * 97).collect();
        let mut out = vec![Some(9); 40];
        t.lookup_batch(&addrs, &mut out);
        for (i, &a) in addrs.iter().enumerate() {
            assert_eq!(out[i], t.lookup(a));
        }
        assert_eq!(
            out[37..],
            [Some(9); 3],
            "slots past the input stay untouched"
        );
        let mut short = [None; 5];
        t.lookup_batch(&addrs, &mut short);
        assert_eq!(short[4], t.lookup(addrs[4]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn matches_linear_scan(
            ops in prop::collection::vec(op(), 0..400),
            addrs in prop::collection::vec(any::<u32>(), 64),
            force_large in any::<bool>(),
        ) {
            let mut t = Lpm::with_small_max(if force_large { 0 } else { SMALL_MAX });
            let mut routes = BTreeMap::new();
            for (i, &op) in ops.iter().enumerate() {
                apply(&mut t, &mut routes, op);
                if i % 97 == 0 {
                    check(&t, &routes, &addrs[..8]);
                }
            }
            check(&t, &routes, &addrs);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Thousands of routes: bulk load across the threshold, then churn and shrink back.
        #[test]
        fn matches_linear_scan_across_modes(
            bulk in prop::collection::vec(op(), 900..2500),
            churn in prop::collection::vec(op(), 0..300),
            addrs in prop::collection::vec(any::<u32>(), 64),
        ) {
            let mut t = Lpm::new();
            let mut routes = BTreeMap::new();
            let inserts: Vec<(u32, u8, u16)> = bulk
                .iter()
                .filter_map(|&op| match op { Op::Insert(p, l, v) => Some((p, l, v)), _ => None })
                .collect();
            for &(p, l, v) in &inserts {
                routes.insert((p & net_mask(l), l), v);
            }
            t.extend(inserts);
            check(&t, &routes, &addrs);
            for &op in &churn {
                apply(&mut t, &mut routes, op);
            }
            check(&t, &routes, &addrs);
            let keys: Vec<_> = routes.keys().copied().collect();
            for (i, &(p, l)) in keys.iter().enumerate().filter(|(i, _)| i % 4 != 0) {
                apply(&mut t, &mut routes, Op::Remove(p, l));
                if i % 500 == 1 {
                    check(&t, &routes, &addrs[..8]);
                }
            }
            check(&t, &routes, &addrs);
        }
    }
}
