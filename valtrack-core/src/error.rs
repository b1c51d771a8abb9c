//! Error types of valtrack-core, one enum per layer.

use thiserror::Error;

/// A hex string that is not the expected fixed-size value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseHexError {
    /// Wrong number of hex digits.
    #[error("expected {expected} bytes ({} hex digits), got {got_digits} digits", expected * 2)]
    Length {
        /// Expected length in bytes.
        expected: usize,
        /// Number of hex digits found (after any `0x`).
        got_digits: usize,
    },
    /// A character is not a hex digit.
    #[error("not a hex string")]
    NotHex,
}

/// SSZ bytes that do not decode to the expected type.
#[derive(Debug, Error)]
pub enum SszError {
    /// The encoding's length is outside the type's bounds.
    #[error("{type_name}: SSZ length {len} outside [{min}, {max}]")]
    Length {
        /// The type being decoded.
        type_name: &'static str,
        /// Length found.
        len: usize,
        /// Smallest valid length.
        min: usize,
        /// Largest valid length.
        max: usize,
    },
    /// A variable-size field's offset is not where the layout puts it.
    #[error("{type_name}: SSZ offset {offset}, expected {expected}")]
    Offset {
        /// The type being decoded.
        type_name: &'static str,
        /// Offset found.
        offset: usize,
        /// Offset the layout requires.
        expected: usize,
    },
    /// The bytes are the right size but not a valid value.
    #[error("{type_name}: invalid SSZ")]
    Invalid {
        /// The type being decoded.
        type_name: &'static str,
        /// What the SSZ decoder said.
        #[source]
        source: ssz_rs::DeserializeError,
    },
}
