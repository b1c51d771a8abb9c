//! Entry points of the coverage-guided fuzz targets under `fuzz/` (cargo fuzz), one per
//! decoder of outside bytes. Each takes arbitrary bytes, must never panic, and asserts what
//! must hold of what it decodes: round trips, incremental decoding that agrees with whole
//! decoding, and agreement with an independent decoder where one exists (the `enr` crate's
//! own text parser, `snap`'s frame reader over the whole stream).
//!
//! The same functions replay the kept corpus and every crash input in ordinary `cargo test`
//! (`tests/fuzz_corpus.rs`), so CI checks them without a fuzzer. Not a stable API.

use std::io::Read;

use crate::codec::{decode_request_chunk, decode_response_chunk, CodecError, GossipTopic};
use crate::ssz::{
    Attestation, Goodbye, MetaDataV1, MetaDataV2, MetaDataV3, Ping, SingleAttestation, StatusV1,
    StatusV2,
};
use crate::SszMessage;

/// ENR text (`enr:…`): parsed, its fields read, and compared with the `enr` crate's own
/// parser: what we accept it accepts as the same record; what it accepts (without trailing
/// bytes, within 300 bytes, in the form both read) we accept.
pub fn enr_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = crate::parse_enr(text);
    if let Ok(enr) = &ours {
        let _ = crate::EnrInfo::from_enr(enr);
        let again = crate::parse_enr(&enr.to_base64()).expect("a record we accepted re-parses");
        assert_eq!(&again, enr);
    }
    // The enr crate reads `enr:` + unpadded base64url; compare on that form only.
    if text.starts_with("enr:") && text.trim() == text && !text.ends_with('=') {
        let theirs = text.parse::<crate::Enr>();
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "same record"),
            (Ok(_), Err(e)) => panic!("we accept a record the enr crate refuses: {e}"),
            (Err(ours), Ok(b)) => {
                // We are stricter on purpose: trailing bytes after the record and over-size
                // input. Anything else is a disagreement.
                let trailing = matches!(ours, crate::EnrError::TrailingBytes { .. });
                let too_large = matches!(ours, crate::EnrError::TooLarge { .. });
                assert!(
                    trailing || too_large,
                    "the enr crate accepts {b:?}, we say {ours}"
                );
            }
            (Err(_), Err(_)) => {}
        }
    }
}

/// ENR RLP bytes (as discv5 NODES carry them): decoded and its fields read; a decoded record
/// encodes back to the same bytes.
pub fn enr_rlp(data: &[u8]) {
    if let Ok(enr) = crate::enr_info::decode_enr(data) {
        let _ = crate::EnrInfo::from_enr(&enr);
        let mut out = Vec::new();
        alloy_rlp::Encodable::encode(&enr, &mut out);
        assert_eq!(out, data, "a record re-encodes to its bytes");
    }
}

/// Checks one request or response chunk decoder over `src`: incremental decoding agrees with
/// decoding the whole, and a decoded value is what `snap` reads from the same frames.
fn chunk<T: SszMessage + PartialEq + std::fmt::Debug>(src: &[u8], response: bool) {
    let decode = |b: &[u8]| {
        if response {
            decode_response_chunk::<T>(b)
        } else {
            decode_request_chunk::<T>(b)
        }
    };
    let whole = decode(src);
    let Ok(Some((value, used))) = whole else {
        return;
    };
    assert!(used <= src.len());
    // As the stream reader feeds it: every shorter prefix asks for more, never fails, and
    // every longer buffer gives the same value and length.
    let step = (used / 64).max(1);
    for k in (0..used).step_by(step) {
        match decode(&src[..k]) {
            Ok(None) => {}
            // a zero-length payload's stream identifier cannot be told apart yet
            Ok(Some((_, n))) if n <= k => {}
            other => panic!("prefix {k} of a {used}-byte chunk: {other:?}"),
        }
    }
    match decode(&src[..used]) {
        Ok(Some((v, n))) => assert!(v == value && n == used),
        other => panic!("the chunk alone: {other:?}"),
    }
    // Independent reading: result byte, varint, then snap's frame reader over the frames.
    let mut rest = &src[usize::from(response)..used];
    let mut len = 0u64;
    for shift in (0..70).step_by(7) {
        let (byte, tail) = rest.split_first().expect("a varint precedes the frames");
        rest = tail;
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let mut payload = Vec::new();
    let read = snap::read::FrameDecoder::new(rest)
        .take(len)
        .read_to_end(&mut payload);
    if len > 0 {
        assert!(read.is_ok(), "snap refuses frames we decoded: {read:?}");
    }
    assert_eq!(payload.len() as u64, len, "snap reads the declared length");
    assert_eq!(T::from_ssz_bytes(&payload).as_ref().ok(), Some(&value));
    assert_eq!(
        value.to_ssz_bytes(),
        payload,
        "the value re-encodes to its payload"
    );
}

/// `ssz_snappy` request and response chunks of every protocol and version the sentry reads
/// (the first byte picks which).
pub fn rpc_chunk(data: &[u8]) {
    let Some((&pick, src)) = data.split_first() else {
        return;
    };
    let response = pick & 1 == 1;
    match (pick >> 1) % 8 {
        0 => chunk::<StatusV1>(src, response),
        1 => chunk::<StatusV2>(src, response),
        2 => chunk::<MetaDataV1>(src, response),
        3 => chunk::<MetaDataV2>(src, response),
        4 => chunk::<MetaDataV3>(src, response),
        5 => chunk::<Ping>(src, response),
        6 => chunk::<Goodbye>(src, response),
        _ => {
            // an error chunk (non-zero result code): its message is read within its bound
            if let Err(CodecError::ErrorResponse { message, .. }) =
                decode_response_chunk::<Ping>(src)
            {
                assert!(message.chars().count() <= crate::ssz::ErrorMessage::SSZ_MAX_LEN);
            }
        }
    }
}

/// A gossip message on an attestation subnet (raw snappy, then SSZ, with the topic's bound):
/// the first byte picks the subnet and whether the topic's fork is Electra.
pub fn gossip_attestation(data: &[u8]) {
    let Some((&pick, raw)) = data.split_first() else {
        return;
    };
    let bound = Attestation::SSZ_MAX_LEN.max(SingleAttestation::SSZ_MAX_LEN);
    let Ok(ssz) = crate::codec::decompress_gossip(raw, bound) else {
        return;
    };
    assert!(ssz.len() <= bound, "the topic's bound holds");
    let subnet = u64::from(pick % 64);
    if let Ok(facts) = crate::attribution::AttestationFacts::decode(&ssz, subnet, pick & 0x80 != 0)
    {
        assert_eq!(facts.subnet, subnet);
    }
}

/// A gossipsub topic string: a parsed topic prints back to the same string.
pub fn topic(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(topic) = text.parse::<GossipTopic>() {
        assert_eq!(topic.to_string(), text);
        let _ = topic.kind.validate();
    }
}

/// An event as the consumer reads it from NATS: a decoded event encodes to JSON that decodes
/// to the same event.
pub fn event_json(data: &[u8]) {
    if let Ok(event) = crate::Event::from_json(data) {
        let json = event.to_json();
        let again = crate::Event::from_json(&json).expect("our own JSON decodes");
        assert_eq!(again, event);
    }
}

/// A beacon API committees answer (`/eth/v1/beacon/states/head/committees?epoch=`); the first
/// byte picks the epoch.
pub fn committees_json(data: &[u8]) {
    let Some((&epoch, json)) = data.split_first() else {
        return;
    };
    if let Ok(c) = crate::committees::EpochCommittees::from_json(json, u64::from(epoch), 32) {
        assert_eq!(c.epoch(), u64::from(epoch));
        let _ = c.validator(u64::from(epoch) * 32, 0, 0);
    }
}

/// The files of a network directory: `config.yaml`, a bootnode list
/// (`bootstrap_nodes.txt` / `boot_enr.yaml`), `genesis.ssz` and
/// `genesis_validators_root.txt` (the first byte picks which).
pub fn network_dir(data: &[u8]) {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(bytes);
    match pick % 4 {
        0 => {
            if let Ok(text) = text {
                if let Ok(config) = crate::network::ConsensusConfig::from_yaml(text) {
                    let _ = (config.forks(), config.slot_duration(), config.preset_base());
                }
            }
        }
        1 => {
            if let Ok(text) = text {
                let _ = crate::network::dir::parse_bootnode_text(text);
            }
        }
        2 => {
            let _ = crate::network::genesis_from_beacon_state(bytes);
        }
        _ => {
            if let Ok(text) = text {
                let _ = crate::network::parse_genesis_validators_root(text);
            }
        }
    }
}
