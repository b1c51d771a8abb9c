//! The 128-bit key of an event id and a bounded set of recent keys, shared by the consumer's
//! dedupe, the tracker store's applied ids and the tracker role's derived tables.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// A 128-bit key of an event id: the id itself when it is 32 hex digits (as every id
/// `EventMeta::new` makes), else two 64-bit hashes of it.
pub(crate) fn event_key(id: &str) -> u128 {
    if id.len() == 32 {
        if let Ok(k) = u128::from_str_radix(id, 16) {
            return k;
        }
    }
    let mut hi = DefaultHasher::new();
    (0u8, id).hash(&mut hi);
    let mut lo = DefaultHasher::new();
    (1u8, id).hash(&mut lo);
    (u128::from(hi.finish()) << 64) | u128::from(lo.finish())
}

/// The last `capacity` keys inserted (16 bytes each plus the set's overhead).
#[derive(Debug)]
pub(crate) struct RecentIds {
    set: HashSet<u128>,
    order: VecDeque<u128>,
    capacity: usize,
}

impl RecentIds {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    #[cfg_attr(not(feature = "nats"), allow(dead_code))] // the consumer's
    pub(crate) fn contains(&self, key: u128) -> bool {
        self.set.contains(&key)
    }

    pub(crate) fn insert(&mut self, key: u128) {
        self.insert_new(key);
    }

    /// Inserts `key`; `false` when it was there already.
    pub(crate) fn insert_new(&mut self, key: u128) -> bool {
        let new = self.set.insert(key);
        if new {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
        new
    }

    #[cfg_attr(not(feature = "nats"), allow(dead_code))] // the consumer's
    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
    use super::event_key as key;
    use super::*;

    #[test]
    fn keeps_the_newest_capacity_keys() {
        let mut ids = RecentIds::new(2);
        for id in ["a", "b", "a", "c"] {
            ids.insert(key(id));
        }
        assert_eq!(ids.len(), 2);
        assert!(!ids.contains(key("a")));
        assert!(ids.contains(key("b")) && ids.contains(key("c")));
        assert_eq!(key("000000000000000000000000000000ff"), 255);
        assert_ne!(key("x"), key("y"));
    }
}
