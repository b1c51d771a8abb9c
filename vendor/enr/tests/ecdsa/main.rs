#[cfg(feature = "rust-secp256k1")]
mod rust_secp256k1;
