//! serde helpers: 32-byte roots as lowercase hex strings with `0x`.

use serde::{Deserialize, Deserializer, Serializer};

use crate::primitives::{parse_hex_array, Root};

pub(crate) fn serialize<S: Serializer>(root: &Root, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{}", hex::encode(root)))
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Root, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse_hex_array(&s).map_err(serde::de::Error::custom)
}
