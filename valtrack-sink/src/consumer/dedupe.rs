//! A bounded set of recently seen event ids.

use std::collections::{HashSet, VecDeque};

pub(crate) use crate::event_key::event_key as key;

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

    pub(crate) fn contains(&self, key: u128) -> bool {
        self.set.contains(&key)
    }

    pub(crate) fn insert(&mut self, key: u128) {
        if self.set.insert(key) {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.set.len()
    }
}

#[cfg(test)]
mod tests {
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
