//! Gossip payloads (SSZ compressed with *block* snappy, not framed) and gossipsub message ids.

use sha2::{Digest, Sha256};

use super::{checked_len, max_compressed_len, CodecError};
use crate::constants::MAX_PAYLOAD_SIZE;
use crate::ssz::SszMessage;

/// `MESSAGE_DOMAIN_INVALID_SNAPPY`: message-id domain for data that does not decompress.
pub const MESSAGE_DOMAIN_INVALID_SNAPPY: [u8; 4] = [0x00, 0x00, 0x00, 0x00];
/// `MESSAGE_DOMAIN_VALID_SNAPPY`: message-id domain for data that decompresses.
pub const MESSAGE_DOMAIN_VALID_SNAPPY: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

/// Which message-id function applies to a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageIdFork {
    /// Phase 0 topics (mainnet digest `b5303f2a`): `SHA256(domain ‖ data)[:20]`.
    Phase0,
    /// Altair and later: `SHA256(domain ‖ u64le(len(topic)) ‖ topic ‖ data)[:20]`.
    Altair,
}

/// The largest decompressed gossip payload of type `T`: `min(T::SSZ_MAX_LEN, MAX_PAYLOAD_SIZE)`.
pub const fn gossip_len_bound<T: SszMessage>() -> usize {
    if T::SSZ_MAX_LEN < MAX_PAYLOAD_SIZE {
        T::SSZ_MAX_LEN
    } else {
        MAX_PAYLOAD_SIZE
    }
}

/// Encodes a gossip payload: the SSZ bytes, block-snappy compressed.
///
/// Fails only if the value's encoding is outside its type's bounds or `MAX_PAYLOAD_SIZE`.
pub fn encode_gossip<T: SszMessage>(value: &T) -> Result<Vec<u8>, CodecError> {
    let ssz = value.to_ssz_bytes();
    let len = u64::try_from(ssz.len()).unwrap_or(u64::MAX);
    checked_len(len, T::TYPE_NAME, T::SSZ_MIN_LEN, T::SSZ_MAX_LEN)?;
    snap::raw::Encoder::new()
        .compress_vec(&ssz)
        .map_err(CodecError::Snappy)
}

/// Decompresses a block-snappy gossip payload of at most `max_len` bytes (and never more than
/// `MAX_PAYLOAD_SIZE`).
///
/// The compressed size is checked against `max_compressed_len(MAX_PAYLOAD_SIZE)` and the
/// length in the snappy header against `max_len` before the output is allocated. This is what
/// a gossipsub `DataTransform::inbound_transform` needs.
pub fn decompress_gossip(data: &[u8], max_len: usize) -> Result<Vec<u8>, CodecError> {
    let max_len = max_len.min(MAX_PAYLOAD_SIZE);
    let len = checked_decompress_len(data, "gossip payload", 0, max_len)?;
    decompress(data, len)
}

/// Decodes a gossip payload of type `T`: block snappy, then SSZ.
///
/// The decompressed length is bounded by `min(max_len, T::SSZ_MAX_LEN, MAX_PAYLOAD_SIZE)`
/// and must be at least `T::SSZ_MIN_LEN`. As the spec's gossip size limits say, the type's
/// bound caps only the decompressed length: the compressed size is held to
/// `max_compressed_len(MAX_PAYLOAD_SIZE)` on every topic, so a legal but poorly compressed
/// encoding is still accepted. Both are checked before anything is decompressed. Pass
/// `usize::MAX` as `max_len` to rely on the type's bound alone.
pub fn decode_gossip<T: SszMessage>(data: &[u8], max_len: usize) -> Result<T, CodecError> {
    let max = max_len.min(gossip_len_bound::<T>());
    let len = checked_decompress_len(data, T::TYPE_NAME, T::SSZ_MIN_LEN, max)?;
    let ssz = decompress(data, len)?;
    Ok(T::from_ssz_bytes(&ssz)?)
}

/// The message id of a gossip message as received (`data_raw` still compressed).
///
/// If `data_raw` decompresses (to at most `MAX_PAYLOAD_SIZE` bytes, checked before
/// decompressing) the id hashes [`MESSAGE_DOMAIN_VALID_SNAPPY`] and the decompressed data,
/// otherwise [`MESSAGE_DOMAIN_INVALID_SNAPPY`] and the raw data. Altair and later topics
/// also hash the topic string, prefixed by its length as a little-endian `u64`.
pub fn gossip_message_id(topic: &str, data_raw: &[u8], fork: MessageIdFork) -> [u8; 20] {
    match decompress_gossip(data_raw, MAX_PAYLOAD_SIZE) {
        Ok(data) => message_id(MESSAGE_DOMAIN_VALID_SNAPPY, topic, &data, fork),
        Err(_) => message_id(MESSAGE_DOMAIN_INVALID_SNAPPY, topic, data_raw, fork),
    }
}

/// The message id of a gossip message whose data is already decompressed.
///
/// With a snappy `DataTransform` (as Lighthouse's `SnappyTransform`), rust-libp2p's gossipsub
/// calls the `message_id_fn` with the *decompressed* data, and only for messages whose
/// `inbound_transform` succeeded: a message that does not decompress is rejected before any id
/// is computed. So this always uses [`MESSAGE_DOMAIN_VALID_SNAPPY`], which gives the same id
/// as [`gossip_message_id`] on the compressed data.
pub fn gossip_message_id_decompressed(
    topic: &str,
    decompressed: &[u8],
    fork: MessageIdFork,
) -> [u8; 20] {
    message_id(MESSAGE_DOMAIN_VALID_SNAPPY, topic, decompressed, fork)
}

fn message_id(domain: [u8; 4], topic: &str, data: &[u8], fork: MessageIdFork) -> [u8; 20] {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    if fork == MessageIdFork::Altair {
        let topic_len = u64::try_from(topic.len()).unwrap_or(u64::MAX);
        hasher.update(topic_len.to_le_bytes());
        hasher.update(topic.as_bytes());
    }
    hasher.update(data);
    let digest = hasher.finalize();
    let mut id = [0u8; 20];
    id.copy_from_slice(&digest[..20]);
    id
}

/// The largest compressed gossip payload: `max_compressed_len(MAX_PAYLOAD_SIZE)`.
const MAX_COMPRESSED_GOSSIP_LEN: usize = max_compressed_len(MAX_PAYLOAD_SIZE);

/// Checks the compressed size against `max_compressed_len(MAX_PAYLOAD_SIZE)`, then the length in
/// the snappy header against `MAX_PAYLOAD_SIZE` and `min..=max`. Allocates nothing.
fn checked_decompress_len(
    data: &[u8],
    type_name: &'static str,
    min: usize,
    max: usize,
) -> Result<usize, CodecError> {
    if data.len() > MAX_COMPRESSED_GOSSIP_LEN {
        return Err(CodecError::CompressedTooLarge {
            len: MAX_PAYLOAD_SIZE,
            max: MAX_COMPRESSED_GOSSIP_LEN,
        });
    }
    let len = snap::raw::decompress_len(data).map_err(CodecError::Snappy)?;
    checked_len(u64::try_from(len).unwrap_or(u64::MAX), type_name, min, max)
}

/// Decompresses `data`, whose header declares `len` (already checked) bytes.
fn decompress(data: &[u8], len: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![0u8; len];
    let written = snap::raw::Decoder::new()
        .decompress(data, &mut out)
        .map_err(CodecError::Snappy)?;
    out.truncate(written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::codec::test_util::{largest_allocation, RawBytes};
    use crate::ssz::{Attestation, SingleAttestation, SyncCommitteeMessage};

    fn single_attestation(attester_index: u64) -> SingleAttestation {
        let mut value = SingleAttestation {
            committee_index: 17,
            attester_index,
            ..SingleAttestation::default()
        };
        value.data.slot = 12_345_678;
        value.data.beacon_block_root = [0xab; 32];
        value.data.target.epoch = 385_802;
        value
    }

    #[test]
    fn single_attestation_roundtrip() {
        let value = single_attestation(987_654);
        let wire = encode_gossip(&value).unwrap();
        assert!(wire.len() < 240, "repetitive data compresses");
        assert_eq!(
            decode_gossip::<SingleAttestation>(&wire, usize::MAX).unwrap(),
            value
        );
        assert_eq!(decompress_gossip(&wire, 240).unwrap(), value.to_ssz_bytes());
    }

    #[test]
    fn empty_payload_roundtrip() {
        let wire = encode_gossip(&RawBytes(Vec::new())).unwrap();
        assert_eq!(
            decode_gossip::<RawBytes>(&wire, usize::MAX).unwrap().0,
            Vec::<u8>::new()
        );
    }

    #[test]
    fn wrong_length_is_rejected_before_ssz() {
        // 239 bytes where a SingleAttestation needs 240.
        let wire = snap::raw::Encoder::new().compress_vec(&[0u8; 239]).unwrap();
        let err = decode_gossip::<SingleAttestation>(&wire, usize::MAX).unwrap_err();
        assert!(
            matches!(
                err,
                CodecError::LengthOutOfBounds {
                    len: 239,
                    min: 240,
                    max: 240,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.is_protocol_violation());
        // A SyncCommitteeMessage payload on an attestation topic.
        let sync = encode_gossip(&SyncCommitteeMessage::default()).unwrap();
        assert!(matches!(
            decode_gossip::<SingleAttestation>(&sync, usize::MAX),
            Err(CodecError::LengthOutOfBounds { len: 144, .. })
        ));
    }

    #[test]
    fn caller_bound_applies() {
        let wire = encode_gossip(&RawBytes(vec![7; 1000])).unwrap();
        assert!(decode_gossip::<RawBytes>(&wire, 1000).is_ok());
        assert!(matches!(
            decode_gossip::<RawBytes>(&wire, 999),
            Err(CodecError::LengthOutOfBounds {
                len: 1000,
                max: 999,
                ..
            })
        ));
        assert!(matches!(
            decompress_gossip(&wire, 999),
            Err(CodecError::LengthOutOfBounds {
                len: 1000,
                max: 999,
                ..
            })
        ));
    }

    #[test]
    fn snappy_bomb_is_rejected_without_allocating() {
        // A 6-byte block whose header claims 4 GiB - 1 of output.
        let bomb = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert_eq!(snap::raw::decompress_len(&bomb).unwrap(), u32::MAX as usize);
        let (result, largest) = largest_allocation(|| decode_gossip::<RawBytes>(&bomb, usize::MAX));
        assert!(
            matches!(result, Err(CodecError::PayloadTooLarge { len, .. }) if len == u64::from(u32::MAX)),
            "{result:?}"
        );
        assert!(largest < 1024, "allocated {largest} bytes");
        // Just over MAX_PAYLOAD_SIZE, with a valid-looking literal after it.
        let mut over = Vec::new();
        let mut n = MAX_PAYLOAD_SIZE + 1;
        while n >= 0x80 {
            over.push((n as u8) | 0x80);
            n >>= 7;
        }
        over.push(n as u8);
        over.extend_from_slice(&[0x00, 0x41]);
        let (result, largest) = largest_allocation(|| decompress_gossip(&over, usize::MAX));
        assert!(
            matches!(result, Err(CodecError::PayloadTooLarge { .. })),
            "{result:?}"
        );
        assert!(largest < 1024, "allocated {largest} bytes");
        // The message id treats it as invalid snappy, again without allocating it.
        let (id, largest) =
            largest_allocation(|| gossip_message_id("t", &bomb, MessageIdFork::Altair));
        assert_eq!(
            id,
            message_id(
                MESSAGE_DOMAIN_INVALID_SNAPPY,
                "t",
                &bomb,
                MessageIdFork::Altair
            )
        );
        assert!(largest < 1024, "allocated {largest} bytes");
    }

    #[test]
    fn oversized_compressed_data_is_rejected_before_decompressing() {
        // A header declaring 240 bytes, then junk up to one byte past the spec's limit.
        let mut wire = vec![0u8; MAX_COMPRESSED_GOSSIP_LEN + 1];
        wire[..2].copy_from_slice(&[0xf0, 0x01]);
        let (result, largest) =
            largest_allocation(|| decode_gossip::<SingleAttestation>(&wire, usize::MAX));
        assert!(
            matches!(
                result,
                Err(CodecError::CompressedTooLarge {
                    len: MAX_PAYLOAD_SIZE,
                    max: 12_233_418
                })
            ),
            "{result:?}"
        );
        assert!(largest < 1024, "allocated {largest} bytes");
        assert!(matches!(
            decompress_gossip(&wire, usize::MAX),
            Err(CodecError::CompressedTooLarge { .. })
        ));
    }

    #[test]
    fn poorly_compressed_but_legal_payload_is_accepted() {
        // 240 one-byte literals: 2 + 480 bytes, beyond max_compressed_len(240) = 312 but within
        // the spec's limit, which depends on MAX_PAYLOAD_SIZE only.
        let value = single_attestation(42);
        let mut wire = vec![0xf0, 0x01];
        for byte in value.to_ssz_bytes() {
            wire.extend_from_slice(&[0x00, byte]);
        }
        assert!(wire.len() > max_compressed_len(240));
        assert_eq!(
            decode_gossip::<SingleAttestation>(&wire, usize::MAX).unwrap(),
            value
        );
    }

    #[test]
    fn junk_after_a_complete_block_is_an_error() {
        let mut wire = encode_gossip(&single_attestation(1)).unwrap();
        wire.extend_from_slice(&[0x00, 0x00]);
        assert!(matches!(
            decode_gossip::<SingleAttestation>(&wire, usize::MAX),
            Err(CodecError::Snappy(_))
        ));
    }

    #[test]
    fn corrupt_snappy_is_an_error() {
        let mut wire = encode_gossip(&single_attestation(5)).unwrap();
        let last = wire.len() - 1;
        wire.truncate(last);
        assert!(matches!(
            decode_gossip::<SingleAttestation>(&wire, usize::MAX),
            Err(CodecError::Snappy(_))
        ));
    }

    #[test]
    fn bad_attestation_offset_is_an_ssz_error() {
        let mut ssz = Attestation::default().to_ssz_bytes();
        ssz[0] = 0xff;
        let wire = snap::raw::Encoder::new().compress_vec(&ssz).unwrap();
        assert!(matches!(
            decode_gossip::<Attestation>(&wire, usize::MAX),
            Err(CodecError::Ssz(_))
        ));
    }

    /// Expected ids computed independently with Python's `hashlib`:
    /// `sha256(domain + len(topic).to_bytes(8, "little") + topic + data).digest()[:20]`.
    #[test]
    fn message_id_vectors() {
        let topic = "/eth2/8c9f62fe/beacon_attestation_17/ssz_snappy";
        let data = b"valtrack message id test vector";
        let raw = snap::raw::Encoder::new().compress_vec(data).unwrap();
        let altair = gossip_message_id(topic, &raw, MessageIdFork::Altair);
        assert_eq!(hex::encode(altair), ALTAIR_VALID);
        assert_eq!(
            gossip_message_id_decompressed(topic, data, MessageIdFork::Altair),
            altair
        );
        let phase0 = gossip_message_id(topic, &raw, MessageIdFork::Phase0);
        assert_eq!(hex::encode(phase0), PHASE0_VALID);
        // Not snappy at all: hashed raw under the invalid domain.
        let junk = [0xffu8; 12];
        assert_eq!(
            hex::encode(gossip_message_id(topic, &junk, MessageIdFork::Altair)),
            ALTAIR_INVALID
        );
        assert_eq!(
            hex::encode(gossip_message_id(topic, &junk, MessageIdFork::Phase0)),
            PHASE0_INVALID
        );
    }

    const ALTAIR_VALID: &str = "0b3ed7535b8477a25f98804b40f64ab68d5423bf";
    const PHASE0_VALID: &str = "2049d766525d1a2b320092b6cc783e0829a3c636";
    const ALTAIR_INVALID: &str = "97b5f057db664104bb7fbd1d735d8513a6b8bd0f";
    const PHASE0_INVALID: &str = "e97af7f8fe87318f3a0f7ed727c0307638cc2a01";

    #[test]
    fn message_size_limits() {
        assert_eq!(gossip_len_bound::<SingleAttestation>(), 240);
        assert_eq!(gossip_len_bound::<RawBytes>(), MAX_PAYLOAD_SIZE);
    }

    proptest! {
        #[test]
        fn gossip_decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600),
                                       max_len in any::<usize>()) {
            let _ = decode_gossip::<SingleAttestation>(&data, max_len);
            let _ = decode_gossip::<Attestation>(&data, max_len);
            let _ = decode_gossip::<SyncCommitteeMessage>(&data, max_len);
            let _ = decode_gossip::<RawBytes>(&data, max_len);
            let _ = decompress_gossip(&data, max_len);
            let _ = gossip_message_id("/eth2/00000000/beacon_block/ssz_snappy", &data, MessageIdFork::Altair);
            let _ = gossip_message_id("", &data, MessageIdFork::Phase0);
        }

        #[test]
        fn raw_bytes_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let wire = encode_gossip(&RawBytes(data.clone())).unwrap();
            prop_assert!(wire.len() <= max_compressed_len(data.len()));
            prop_assert_eq!(&decode_gossip::<RawBytes>(&wire, data.len()).unwrap().0, &data);
            prop_assert_eq!(
                gossip_message_id("x", &wire, MessageIdFork::Altair),
                gossip_message_id_decompressed("x", &data, MessageIdFork::Altair)
            );
        }
    }
}
