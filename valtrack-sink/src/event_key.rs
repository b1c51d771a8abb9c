//! The 128-bit key of an event id, shared by the consumer's dedupe and the tracker store's
//! applied ids.

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
