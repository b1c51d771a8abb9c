use proptest::prelude::*;

use super::*;
use crate::codec::test_util::{hex_file, largest_allocation, RawBytes};
use crate::constants::MAX_PAYLOAD_SIZE;
use crate::ssz::{
    Attestation, Goodbye, MetaDataV1, MetaDataV2, MetaDataV3, Ping, SingleAttestation, StatusV1,
    StatusV2,
};
use crate::subnets::{AttestationSubnets, SyncSubnets};

const STATUS_RESPONSE: &str = include_str!("../../../testdata/lodestar/status_response.hex");
const STATUS_REQUEST: &str = include_str!("../../../testdata/lodestar/status_request.hex");
const METADATA_V2_RESPONSE: &str =
    include_str!("../../../testdata/lodestar/metadata_v2_response.hex");
const PING_RESPONSE: &str = include_str!("../../../testdata/lodestar/ping_response.hex");
const PING_REQUEST: &str = include_str!("../../../testdata/lodestar/ping_request.hex");
const GOODBYE_REQUEST: &str = include_str!("../../../testdata/lodestar/goodbye_request.hex");
const GOODBYE_RESPONSE: &str = include_str!("../../../testdata/lodestar/goodbye_response.hex");
const ZERO_STATUS_COMPRESSED: &str =
    include_str!("../../../testdata/lodestar/status_request_zero_compressed.hex");

/// Fork digest of the Lodestar dev network the bytes come from.
const LODESTAR_DIGEST: [u8; 4] = [0xe9, 0x19, 0x5d, 0x94];

fn root(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).unwrap();
    out
}

fn uvarint(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_uvarint(n, &mut out);
    out
}

/// `snap`'s framing of `data` (stream identifier and chunks, no length prefix).
fn frames(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = FrameEncoder::new(&mut out);
    encoder.write_all(data).unwrap();
    encoder.flush().unwrap();
    drop(encoder);
    out
}

/// A request whose frames decompress to `data` but whose prefix declares `declared`.
fn request_with(declared: u64, data: &[u8]) -> Vec<u8> {
    let mut out = uvarint(declared);
    out.extend(frames(data));
    out
}

// ---- real bytes from Lodestar 1.5.1 -------------------------------------------------------

#[test]
fn lodestar_status_response() {
    let wire = hex_file(STATUS_RESPONSE);
    let status = decode_response::<StatusV1>(&wire).unwrap();
    assert_eq!(
        status,
        StatusV1 {
            fork_digest: LODESTAR_DIGEST,
            finalized_root: root(
                "a90b685d6fefb6cc16124d284b4a0aef6649a630873c3784d0f02f41f8181f8f"
            ),
            finalized_epoch: 5,
            head_root: root("f54388019716365ba88a742966f81a7f6d35ff285b4b18aafb773a2ab5ee80f8"),
            head_slot: 62,
        }
    );
    // Incompressible, so `snap` also writes an uncompressed chunk: byte-identical.
    assert_eq!(encode_response(&status).unwrap(), wire);
    assert_eq!(
        decode_response_chunk::<StatusV1>(&wire).unwrap(),
        Some((status, wire.len()))
    );
}

#[test]
fn lodestar_status_request() {
    let wire = hex_file(STATUS_REQUEST);
    let status = decode_request::<StatusV1>(&wire).unwrap();
    assert_eq!(
        status,
        StatusV1 {
            fork_digest: LODESTAR_DIGEST,
            finalized_root: root(
                "5264b3593210f08c9d7ae806fa0707857918bac2e93f5185c95b361e2f43fd2f"
            ),
            finalized_epoch: 15,
            head_root: root("f23d1e3fb337379f3f9245e4a1119f69d9a8bc96cd254306dc3765ca2ea69656"),
            head_slot: 136,
        }
    );
    assert_eq!(encode_request(&status).unwrap(), wire);
    // A Status request is not a response: the `54` would be read as a reserved result code.
    assert!(matches!(
        decode_response::<StatusV1>(&wire),
        Err(CodecError::InvalidVarint(_)
            | CodecError::LengthOutOfBounds { .. }
            | CodecError::Snappy(_))
    ));
}

#[test]
fn lodestar_metadata_v2_response() {
    let wire = hex_file(METADATA_V2_RESPONSE);
    let metadata = decode_response::<MetaDataV2>(&wire).unwrap();
    assert_eq!(metadata.seq_number, 1);
    assert_eq!(
        metadata.attnets(),
        AttestationSubnets([0x80, 0x00, 0x02, 0x00, 0x2c, 0x40, 0x0a, 0x00])
    );
    assert_eq!(metadata.syncnets(), SyncSubnets(0x0f));
    assert_eq!(encode_response(&metadata).unwrap(), wire);
    // The same bytes under the wrong MetaData version are rejected by length, before snappy.
    assert!(matches!(
        decode_response::<MetaDataV3>(&wire),
        Err(CodecError::LengthOutOfBounds {
            len: 17,
            min: 25,
            max: 25,
            ..
        })
    ));
}

#[test]
fn lodestar_ping_and_goodbye() {
    let ping = decode_request::<Ping>(&hex_file(PING_REQUEST)).unwrap();
    assert_eq!(ping, Ping { seq_number: 1 });
    assert_eq!(encode_request(&ping).unwrap(), hex_file(PING_REQUEST));
    let pong = decode_response::<Ping>(&hex_file(PING_RESPONSE)).unwrap();
    assert_eq!(pong, Ping { seq_number: 1 });
    assert_eq!(encode_response(&pong).unwrap(), hex_file(PING_RESPONSE));

    let goodbye = decode_request::<Goodbye>(&hex_file(GOODBYE_REQUEST)).unwrap();
    assert_eq!(goodbye, Goodbye { reason: 2 });
    assert_eq!(encode_request(&goodbye).unwrap(), hex_file(GOODBYE_REQUEST));
    let answer = decode_optional_response::<Goodbye>(&hex_file(GOODBYE_RESPONSE)).unwrap();
    assert_eq!(answer, Some(Goodbye { reason: 0 }));
    // Lodestar sometimes hangs up instead of answering.
    assert_eq!(decode_optional_response::<Goodbye>(&[]).unwrap(), None);
    assert!(decode_response::<Goodbye>(&[])
        .unwrap_err()
        .is_unexpected_eof());
}

#[test]
fn lodestar_accepted_compressed_zero_status() {
    let wire = hex_file(ZERO_STATUS_COMPRESSED);
    assert_eq!(wire[11], 0x00, "compressed chunk");
    let status = decode_request::<StatusV1>(&wire).unwrap();
    assert_eq!(
        status,
        StatusV1 {
            fork_digest: LODESTAR_DIGEST,
            ..StatusV1::default()
        }
    );
    assert_eq!(encode_request(&status).unwrap(), wire);
}

/// The wire examples of the reference doc (section 4) are prefixes.
#[test]
fn reference_wire_examples() {
    let status = encode_request(&StatusV1::default()).unwrap();
    assert_eq!(hex::encode(&status[..12]), "54ff060000734e6150705900");
    let metadata = encode_response(&MetaDataV3::new(
        3,
        AttestationSubnets::from_subnets([1, 2]),
        SyncSubnets(0),
        4,
    ))
    .unwrap();
    assert_eq!(hex::encode(&metadata[..5]), "0019ff0600");
    let ping = encode_request(&Ping { seq_number: 9 }).unwrap();
    assert_eq!(hex::encode(&ping[..3]), "08ff06");
}

// ---- varints and lengths -----------------------------------------------------------------

#[test]
fn varint_edge_cases() {
    assert_eq!(read_uvarint(&[]), Ok(None));
    assert_eq!(read_uvarint(&[0x00]), Ok(Some((0, 1))));
    assert_eq!(read_uvarint(&[0x54, 0xff]), Ok(Some((84, 1))));
    assert_eq!(read_uvarint(&[0x80]), Ok(None));
    assert_eq!(read_uvarint(&[0x80, 0x01]), Ok(Some((128, 2))));
    assert_eq!(read_uvarint(&[0xff; 9]), Ok(None));
    let mut max = vec![0xff; 9];
    max.push(0x01);
    assert_eq!(read_uvarint(&max), Ok(Some((u64::MAX, 10))));
    let mut overflow = vec![0xff; 9];
    overflow.push(0x02);
    assert_eq!(read_uvarint(&overflow), Err(VarintError::Overflow));
    // Eleven bytes: rejected as soon as the tenth has its continuation bit.
    assert_eq!(read_uvarint(&[0x80; 10]), Err(VarintError::TooLong));
    let mut eleven = vec![0xff; 10];
    eleven.push(0x01);
    assert_eq!(read_uvarint(&eleven), Err(VarintError::TooLong));
    assert_eq!(read_uvarint(&[0x80, 0x00]), Err(VarintError::NotMinimal));
    assert_eq!(
        read_uvarint(&[0xd4, 0x80, 0x00]),
        Err(VarintError::NotMinimal)
    );
    for n in [
        0,
        1,
        127,
        128,
        84,
        16_383,
        16_384,
        MAX_PAYLOAD_SIZE as u64,
        u64::MAX,
    ] {
        let bytes = uvarint(n);
        assert_eq!(read_uvarint(&bytes), Ok(Some((n, bytes.len()))), "{n}");
    }
}

#[test]
fn bad_varints_are_errors_in_both_apis() {
    let mut eleven = vec![0xff; 10];
    eleven.push(0x01);
    for bad in [eleven, vec![0x80, 0x00], vec![0xd4, 0x00]] {
        for result in [
            decode_request::<StatusV1>(&bad).map(|_| ()),
            decode_request_chunk::<StatusV1>(&bad).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, CodecError::InvalidVarint(_)), "{err:?}");
            assert!(err.is_protocol_violation());
        }
    }
    // A partial varint needs more bytes; at the end of the stream it is an early EOF.
    assert!(decode_request_chunk::<StatusV1>(&[0x80]).unwrap().is_none());
    assert!(decode_request::<StatusV1>(&[0x80])
        .unwrap_err()
        .is_unexpected_eof());
}

#[test]
fn oversize_length_prefix_is_rejected_before_allocating() {
    let mut wire = uvarint(MAX_PAYLOAD_SIZE as u64 + 1);
    wire.extend(frames(&[0; 100]));
    for result in [
        decode_request::<StatusV1>(&wire).map(|_| ()),
        decode_request::<RawBytes>(&wire).map(|_| ()),
        decode_request_chunk::<RawBytes>(&wire).map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(CodecError::PayloadTooLarge { len, max: MAX_PAYLOAD_SIZE }) if len == MAX_PAYLOAD_SIZE as u64 + 1),
            "{result:?}"
        );
    }
    let (result, largest) = largest_allocation(|| decode_request::<RawBytes>(&uvarint(u64::MAX)));
    assert!(matches!(result, Err(CodecError::PayloadTooLarge { .. })));
    assert!(largest < 1024, "allocated {largest} bytes");
}

#[test]
fn a_short_input_claiming_max_payload_costs_little_memory() {
    // In bounds for RawBytes (exactly MAX_PAYLOAD_SIZE), but only one small chunk follows.
    let wire = request_with(MAX_PAYLOAD_SIZE as u64, &[1; 100]);
    let (partial, largest) = largest_allocation(|| decode_request_chunk::<RawBytes>(&wire));
    assert!(partial.unwrap().is_none());
    // The snappy decoder's two chunk buffers (76,490 + 65,536) and our first 64 KiB step.
    assert!(largest <= 128 * 1024, "allocated {largest} bytes");
    let (whole, largest) = largest_allocation(|| decode_request::<RawBytes>(&wire));
    assert!(whole.unwrap_err().is_unexpected_eof());
    assert!(largest <= 128 * 1024, "allocated {largest} bytes");
}

#[test]
fn length_outside_type_bounds() {
    let wire = request_with(83, &[0; 83]);
    let err = decode_request::<StatusV1>(&wire).unwrap_err();
    assert!(
        matches!(
            err,
            CodecError::LengthOutOfBounds {
                type_name: "StatusV1",
                len: 83,
                min: 84,
                max: 84
            }
        ),
        "{err:?}"
    );
    assert!(err.is_protocol_violation());
    assert!(matches!(
        decode_request_chunk::<StatusV2>(&request_with(84, &[0; 84])),
        Err(CodecError::LengthOutOfBounds {
            len: 84,
            min: 92,
            ..
        })
    ));
    // Attestation is variable-size: 229..=485.
    assert!(matches!(
        decode_request::<Attestation>(&request_with(486, &[0; 486])),
        Err(CodecError::LengthOutOfBounds {
            len: 486,
            min: 229,
            max: 485,
            ..
        })
    ));
    // An error chunk's payload is bounded by ErrorMessage (256), whatever the success type.
    let mut error_chunk = vec![2];
    error_chunk.extend(request_with(257, &[b'x'; 257]));
    assert!(matches!(
        decode_response::<RawBytes>(&error_chunk),
        Err(CodecError::LengthOutOfBounds {
            type_name: "ErrorMessage",
            len: 257,
            ..
        })
    ));
}

// ---- frames --------------------------------------------------------------------------------

#[test]
fn trailing_bytes() {
    let mut wire = hex_file(PING_REQUEST);
    let len = wire.len();
    wire.push(0x00);
    assert!(matches!(
        decode_request::<Ping>(&wire),
        Err(CodecError::TrailingBytes { count: 1 })
    ));
    // The streaming decoder stops at the end of the message and says how far it read.
    assert_eq!(
        decode_request_chunk::<Ping>(&wire).unwrap(),
        Some((Ping { seq_number: 1 }, len))
    );
    // A padding chunk after the data is not part of the message either.
    let mut padded = hex_file(PING_RESPONSE);
    padded.extend([0xfe, 0x01, 0x00, 0x00, 0x00]);
    assert!(matches!(
        decode_response::<Ping>(&padded),
        Err(CodecError::TrailingBytes { count: 5 })
    ));
}

type Streaming<T> = fn(&[u8]) -> Result<Option<(T, usize)>, CodecError>;
type Whole<T> = fn(&[u8]) -> Result<T, CodecError>;

/// Every strict prefix of `wire` is `Ok(None)` when streaming and an early EOF when whole.
fn check_truncations<T: std::fmt::Debug>(wire: &[u8], streaming: Streaming<T>, whole: Whole<T>) {
    for cut in 0..wire.len() {
        let partial = streaming(&wire[..cut]);
        assert!(matches!(partial, Ok(None)), "cut at {cut}: {partial:?}");
        let err = whole(&wire[..cut]).unwrap_err();
        assert!(err.is_unexpected_eof(), "cut at {cut}: {err:?}");
        assert!(!err.is_protocol_violation());
    }
}

#[test]
fn truncated_frames_wait_when_streaming_and_fail_when_whole() {
    check_truncations(
        &hex_file(PING_REQUEST),
        decode_request_chunk::<Ping>,
        decode_request::<Ping>,
    );
    check_truncations(
        &hex_file(STATUS_REQUEST),
        decode_request_chunk::<StatusV1>,
        decode_request::<StatusV1>,
    );
    check_truncations(
        &hex_file(ZERO_STATUS_COMPRESSED),
        decode_request_chunk::<StatusV1>,
        decode_request::<StatusV1>,
    );
    check_truncations(
        &hex_file(STATUS_RESPONSE),
        decode_response_chunk::<StatusV1>,
        decode_response::<StatusV1>,
    );
    check_truncations(
        &hex_file(METADATA_V2_RESPONSE),
        decode_response_chunk::<MetaDataV2>,
        decode_response::<MetaDataV2>,
    );
    check_truncations(
        &hex_file(GOODBYE_RESPONSE),
        decode_response_chunk::<Goodbye>,
        decode_response::<Goodbye>,
    );
}

#[test]
fn fewer_bytes_than_declared() {
    let wire = request_with(8, &[1; 7]);
    assert!(decode_request_chunk::<Ping>(&wire).unwrap().is_none());
    assert!(decode_request::<Ping>(&wire)
        .unwrap_err()
        .is_unexpected_eof());
}

#[test]
fn more_bytes_than_declared_in_the_last_chunk() {
    let wire = request_with(8, &[1; 9]);
    assert!(matches!(
        decode_request::<Ping>(&wire),
        Err(CodecError::DecompressedTooLong { declared: 8 })
    ));
    assert!(matches!(
        decode_request_chunk::<Ping>(&wire),
        Err(CodecError::DecompressedTooLong { declared: 8 })
    ));
}

#[test]
fn bad_crc_is_a_snappy_error() {
    // Ping request: 08 | ff060000734e61507059 | 01 0c0000 | crc (4) | 8 bytes.
    let good = hex_file(PING_REQUEST);
    let mut bad_crc = good.clone();
    bad_crc[15] ^= 0x01;
    let mut bad_data = good;
    bad_data[20] ^= 0x01;
    for wire in [bad_crc, bad_data] {
        for result in [
            decode_request::<Ping>(&wire).map(|_| ()),
            decode_request_chunk::<Ping>(&wire).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert!(
                matches!(err, CodecError::Snappy(snap::Error::Checksum { .. })),
                "{err:?}"
            );
            assert!(err.is_protocol_violation());
        }
    }
}

#[test]
fn malformed_frames_are_snappy_errors() {
    // No stream identifier.
    let mut no_ident = vec![0x08];
    no_ident.extend_from_slice(&hex_file(PING_REQUEST)[11..]);
    assert!(matches!(
        decode_request::<Ping>(&no_ident),
        Err(CodecError::Snappy(snap::Error::StreamHeader { .. }))
    ));
    // A reserved unskippable chunk type.
    let mut reserved = hex_file(PING_REQUEST);
    reserved[11] = 0x02;
    assert!(matches!(
        decode_request_chunk::<Ping>(&reserved),
        Err(CodecError::Snappy(snap::Error::UnsupportedChunkType {
            byte: 0x02
        }))
    ));
    // A chunk longer than any legal one is refused from its header alone.
    let mut long_chunk = hex_file(PING_REQUEST);
    long_chunk[12..15].copy_from_slice(&[0xff, 0xff, 0xff]);
    assert!(matches!(
        decode_request_chunk::<Ping>(&long_chunk[..16]),
        Err(CodecError::Snappy(
            snap::Error::UnsupportedChunkLength { .. }
        ))
    ));
}

#[test]
fn framed_snappy_bomb_is_rejected_without_allocating() {
    // A compressed chunk whose 6-byte block claims 4 GiB - 1 of output.
    let block = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
    let mut wire = vec![0x08];
    wire.extend_from_slice(&STREAM_IDENTIFIER);
    wire.extend_from_slice(&[0x00, 10, 0, 0, 0, 0, 0, 0]);
    wire.extend_from_slice(&block);
    let (result, largest) = largest_allocation(|| decode_request::<Ping>(&wire));
    assert!(
        matches!(
            result,
            Err(CodecError::Snappy(
                snap::Error::UnsupportedChunkLength { .. }
            ))
        ),
        "{result:?}"
    );
    assert!(largest <= 128 * 1024, "allocated {largest} bytes");
}

#[test]
fn reading_stops_at_max_compressed_len() {
    // A ping declares 8 bytes, so at most 32 + 8 + 1 = 41 bytes of frames may be read. Padding
    // chunks are legal snappy but never complete the payload.
    let limit = max_compressed_len(8);
    assert_eq!(limit, 41);
    let mut wire = vec![0x08];
    wire.extend_from_slice(&STREAM_IDENTIFIER);
    wire.extend_from_slice(&[0xfe, 100, 0, 0]);
    wire.extend_from_slice(&[0; 100]);
    for fed in 1..wire.len() {
        let result = decode_request_chunk::<Ping>(&wire[..fed]);
        if fed - 1 < limit {
            assert!(result.unwrap().is_none(), "fed {fed}");
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(err, CodecError::CompressedTooLarge { len: 8, max: 41 }),
                "fed {fed}: {err:?}"
            );
            assert!(err.is_protocol_violation());
        }
    }
    assert!(matches!(
        decode_request::<Ping>(&wire),
        Err(CodecError::CompressedTooLarge { len: 8, max: 41 })
    ));
}

#[test]
fn multi_chunk_payloads() {
    // 200,000 incompressible bytes: four uncompressed chunks of at most 65,536 bytes.
    let mut state = 0x1234_5678_u32;
    let noise: Vec<u8> = (0..200_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    // 300,000 zeros: compressed chunks.
    for data in [noise, vec![0; 300_000]] {
        let value = RawBytes(data);
        let wire = encode_request(&value).unwrap();
        assert_eq!(decode_request::<RawBytes>(&wire).unwrap(), value);
        let header = uvarint(value.0.len() as u64).len();
        assert!(wire.len() <= header + max_compressed_len(value.0.len()));
        assert!(decode_request_chunk::<RawBytes>(&wire[..wire.len() - 1])
            .unwrap()
            .is_none());
        let response = encode_response(&value).unwrap();
        assert_eq!(decode_response::<RawBytes>(&response).unwrap(), value);
    }
}

#[test]
fn max_payload_roundtrip() {
    let value = RawBytes(vec![0xa5; MAX_PAYLOAD_SIZE]);
    let wire = encode_request(&value).unwrap();
    assert_eq!(decode_request::<RawBytes>(&wire).unwrap(), value);
    assert!(matches!(
        encode_request(&RawBytes(vec![0; MAX_PAYLOAD_SIZE + 1])),
        Err(CodecError::PayloadTooLarge { .. })
    ));
}

#[test]
fn consecutive_response_chunks() {
    let mut wire = encode_response(&Ping { seq_number: 1 }).unwrap();
    let first = wire.len();
    wire.extend(encode_response(&Ping { seq_number: 2 }).unwrap());
    let (one, used) = decode_response_chunk::<Ping>(&wire).unwrap().unwrap();
    assert_eq!((one.seq_number, used), (1, first));
    let (two, used) = decode_response_chunk::<Ping>(&wire[first..])
        .unwrap()
        .unwrap();
    assert_eq!((two.seq_number, first + used), (2, wire.len()));
    assert!(matches!(
        decode_response::<Ping>(&wire),
        Err(CodecError::TrailingBytes { .. })
    ));
}

// ---- result codes and error chunks ----------------------------------------------------------

#[test]
fn response_codes() {
    for byte in 0..=255u8 {
        let code = ResponseCode::from(byte);
        assert_eq!(u8::from(code), byte);
        let expected = match byte {
            0 => ResponseCode::Success,
            1 => ResponseCode::InvalidRequest,
            2 => ResponseCode::ServerError,
            3 => ResponseCode::ResourceUnavailable,
            4..=127 => ResponseCode::Reserved(byte),
            _ => ResponseCode::ClientSpecific(byte),
        };
        assert_eq!(code, expected);
        assert_eq!(code.is_success(), byte == 0);
    }
    assert_eq!(ResponseCode::ServerError.to_string(), "ServerError (2)");
    assert_eq!(
        ResponseCode::ClientSpecific(139).to_string(),
        "ClientSpecific (139)"
    );
}

#[test]
fn error_responses() {
    for code in [
        ResponseCode::InvalidRequest,
        ResponseCode::ServerError,
        ResponseCode::ResourceUnavailable,
        ResponseCode::Reserved(5),
        ResponseCode::ClientSpecific(200),
    ] {
        let wire = encode_error_response(code, &ErrorMessage::from_text("boom")).unwrap();
        assert_eq!(wire[0], code.as_u8());
        for result in [
            decode_response::<StatusV1>(&wire).map(|_| ()),
            decode_optional_response::<Goodbye>(&wire).map(|_| ()),
            decode_response_chunk::<MetaDataV2>(&wire).map(|_| ()),
        ] {
            let err = result.unwrap_err();
            assert!(
                matches!(&err, CodecError::ErrorResponse { code: c, message } if *c == code && message == "boom"),
                "{err:?}"
            );
            assert_eq!(err.response_code(), Some(code));
            assert!(!err.is_protocol_violation());
        }
    }
    assert!(matches!(
        encode_error_response(ResponseCode::Success, &ErrorMessage::from_text("no")),
        Err(CodecError::SuccessCodeForError)
    ));
}

#[test]
fn empty_payloads() {
    // `snap` writes nothing for an empty payload: the chunk is the result byte and `00`.
    let wire = encode_error_response(ResponseCode::ServerError, &ErrorMessage::default()).unwrap();
    assert_eq!(wire, [0x02, 0x00]);
    let err = decode_response::<Ping>(&wire).unwrap_err();
    assert!(matches!(err, CodecError::ErrorResponse { message, .. } if message.is_empty()));
    // Other writers may send the stream identifier alone.
    let mut with_ident = wire.clone();
    with_ident.extend_from_slice(&STREAM_IDENTIFIER);
    assert!(matches!(
        decode_response::<Ping>(&with_ident),
        Err(CodecError::ErrorResponse { .. })
    ));
    // While streaming, an empty payload cannot be told from one whose identifier is late.
    assert!(decode_response_chunk::<Ping>(&wire).unwrap().is_none());
    assert!(decode_response_chunk::<Ping>(&with_ident[..6])
        .unwrap()
        .is_none());
    assert!(decode_response::<Ping>(&with_ident[..6])
        .unwrap_err()
        .is_unexpected_eof());
    assert!(matches!(
        decode_response_chunk::<Ping>(&with_ident),
        Err(CodecError::ErrorResponse { .. })
    ));
    // An empty payload followed by something else: the next chunk starts right after `00`.
    let mut two = vec![0x00, 0x00];
    two.extend(encode_response(&RawBytes(vec![1, 2, 3])).unwrap());
    assert_eq!(
        decode_response_chunk::<RawBytes>(&two).unwrap(),
        Some((RawBytes(Vec::new()), 2))
    );
    assert_eq!(
        decode_request::<RawBytes>(&[0x00]).unwrap(),
        RawBytes(Vec::new())
    );
}

#[test]
fn metadata_requests_are_empty() {
    assert!(encode_empty_request().is_empty());
    assert!(decode_empty_request(&encode_empty_request()).is_ok());
    assert!(matches!(
        decode_empty_request(&[0x00]),
        Err(CodecError::TrailingBytes { count: 1 })
    ));
}

#[test]
fn snap_errors_keep_their_source() {
    let mut wire = hex_file(PING_REQUEST);
    wire[15] ^= 0x01;
    let err = decode_request::<Ping>(&wire).unwrap_err();
    let source = std::error::Error::source(&err).expect("has a source");
    assert!(source.is::<snap::Error>());
}

// ---- properties -----------------------------------------------------------------------------

fn arb_status() -> impl Strategy<Value = StatusV1> {
    (
        any::<[u8; 4]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<u64>(),
    )
        .prop_map(
            |(fork_digest, finalized_root, finalized_epoch, head_root, head_slot)| StatusV1 {
                fork_digest,
                finalized_root,
                finalized_epoch,
                head_root,
                head_slot,
            },
        )
}

fn arb_metadata() -> impl Strategy<Value = MetaDataV2> {
    (any::<u64>(), any::<[u8; 8]>(), any::<u8>()).prop_map(|(seq, attnets, syncnets)| {
        MetaDataV2::new(seq, AttestationSubnets(attnets), SyncSubnets(syncnets))
    })
}

/// Payloads that are sometimes compressible (runs) and sometimes not.
fn arb_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..2000),
        (any::<u8>(), 1..70_000usize).prop_map(|(b, n)| vec![b; n]),
    ]
}

/// Runs every streaming and whole-stream decoder on `bytes`.
fn decode_everything(bytes: &[u8]) {
    macro_rules! all {
        ($($ty:ty),*) => {$(
            let _ = decode_request::<$ty>(bytes);
            let _ = decode_response::<$ty>(bytes);
            let _ = decode_optional_response::<$ty>(bytes);
            let _ = decode_request_chunk::<$ty>(bytes);
            let _ = decode_response_chunk::<$ty>(bytes);
        )*};
    }
    all!(
        StatusV1,
        StatusV2,
        MetaDataV1,
        MetaDataV2,
        MetaDataV3,
        Ping,
        Goodbye,
        ErrorMessage,
        Attestation,
        SingleAttestation,
        RawBytes
    );
    let _ = decode_empty_request(bytes);
}

/// If the streaming decoder completes, it consumed at most the prefix plus
/// `max_compressed_len` of the declared length.
fn check_consumed_bound(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(Some((_, consumed))) = decode_request_chunk::<RawBytes>(bytes) {
        let (len, prefix) = read_uvarint(bytes).unwrap().unwrap();
        prop_assert!(consumed <= prefix + max_compressed_len(len as usize));
    }
    if let Ok(Some((_, consumed))) = decode_response_chunk::<RawBytes>(bytes) {
        let (len, prefix) = read_uvarint(&bytes[1..]).unwrap().unwrap();
        prop_assert!(consumed <= 1 + prefix + max_compressed_len(len as usize));
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        decode_everything(&bytes);
        check_consumed_bound(&bytes)?;
    }

    #[test]
    fn frame_shaped_bytes_never_panic(prefix in 0u64..600, chunk_type in prop_oneof![Just(0u8), Just(1), Just(0xfe), Just(0xff), any::<u8>()],
                                      chunk_len in 0u32..300, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        // Plausible headers reach deeper into the frame decoder than uniform noise does.
        let mut bytes = uvarint(prefix);
        bytes.extend_from_slice(&STREAM_IDENTIFIER);
        bytes.push(chunk_type);
        bytes.extend_from_slice(&chunk_len.to_le_bytes()[..3]);
        bytes.extend_from_slice(&body);
        decode_everything(&bytes);
        check_consumed_bound(&bytes)?;
        let mut response = vec![0];
        response.extend_from_slice(&bytes);
        decode_everything(&response);
        check_consumed_bound(&response)?;
    }

    #[test]
    fn mutated_encodings_never_panic(status in arb_status(), index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        for mut wire in [encode_request(&status).unwrap(), encode_response(&status).unwrap()] {
            let at = index.index(wire.len());
            wire[at] = byte;
            decode_everything(&wire);
            check_consumed_bound(&wire)?;
        }
    }

    #[test]
    fn valid_encoding_with_suffix(payload in arb_payload(), suffix in proptest::collection::vec(any::<u8>(), 1..50)) {
        let value = RawBytes(payload);
        let header = uvarint(value.0.len() as u64).len();
        for (wire, extra) in [(encode_request(&value).unwrap(), 0), (encode_response(&value).unwrap(), 1)] {
            let mut with_suffix = wire.clone();
            with_suffix.extend_from_slice(&suffix);
            let decoded = if extra == 0 {
                decode_request_chunk::<RawBytes>(&with_suffix)
            } else {
                decode_response_chunk::<RawBytes>(&with_suffix)
            };
            let (back, consumed) = decoded.unwrap().unwrap();
            prop_assert_eq!(&back, &value);
            prop_assert_eq!(consumed, wire.len());
            prop_assert!(consumed <= extra + header + max_compressed_len(value.0.len()));
            check_consumed_bound(&with_suffix)?;
            let whole = if extra == 0 {
                decode_request::<RawBytes>(&with_suffix).map(|_| ())
            } else {
                decode_response::<RawBytes>(&with_suffix).map(|_| ())
            };
            let is_trailing = matches!(whole, Err(CodecError::TrailingBytes { count }) if count == suffix.len());
            prop_assert!(is_trailing);
        }
    }

    #[test]
    fn byte_at_a_time(status in arb_status(), metadata in arb_metadata(), seq in any::<u64>()) {
        fn feed<T: SszMessage + Clone + PartialEq + std::fmt::Debug>(
            wire: &[u8],
            value: &T,
            decode: Streaming<T>,
        ) -> Result<(), TestCaseError> {
            for end in 0..wire.len() {
                prop_assert!(decode(&wire[..end]).unwrap().is_none(), "complete after {end} of {} bytes", wire.len());
            }
            prop_assert_eq!(decode(wire).unwrap(), Some((value.clone(), wire.len())));
            Ok(())
        }
        feed(&encode_request(&status).unwrap(), &status, decode_request_chunk::<StatusV1>)?;
        feed(&encode_response(&status).unwrap(), &status, decode_response_chunk::<StatusV1>)?;
        feed(&encode_response(&metadata).unwrap(), &metadata, decode_response_chunk::<MetaDataV2>)?;
        let ping = Ping { seq_number: seq };
        feed(&encode_request(&ping).unwrap(), &ping, decode_request_chunk::<Ping>)?;
        feed(&encode_response(&ping).unwrap(), &ping, decode_response_chunk::<Ping>)?;
    }

    #[test]
    fn roundtrip_every_message(status in arb_status(), metadata in arb_metadata(), seq in any::<u64>(),
                               cgc in any::<u64>(), earliest in any::<u64>(), text in "\\PC{0,80}") {
        let v2 = StatusV2 {
            fork_digest: status.fork_digest,
            finalized_root: status.finalized_root,
            finalized_epoch: status.finalized_epoch,
            head_root: status.head_root,
            head_slot: status.head_slot,
            earliest_available_slot: earliest,
        };
        prop_assert_eq!(&decode_request::<StatusV1>(&encode_request(&status).unwrap()).unwrap(), &status);
        prop_assert_eq!(decode_response::<StatusV1>(&encode_response(&status).unwrap()).unwrap(), status);
        prop_assert_eq!(decode_response::<StatusV2>(&encode_response(&v2).unwrap()).unwrap(), v2);
        prop_assert_eq!(&decode_response::<MetaDataV2>(&encode_response(&metadata).unwrap()).unwrap(), &metadata);
        let v1 = MetaDataV1::new(seq, metadata.attnets());
        prop_assert_eq!(decode_response::<MetaDataV1>(&encode_response(&v1).unwrap()).unwrap(), v1);
        let v3 = MetaDataV3::new(seq, metadata.attnets(), metadata.syncnets(), cgc);
        prop_assert_eq!(decode_response::<MetaDataV3>(&encode_response(&v3).unwrap()).unwrap(), v3);
        let goodbye = Goodbye { reason: seq };
        prop_assert_eq!(decode_request::<Goodbye>(&encode_request(&goodbye).unwrap()).unwrap(), goodbye);
        prop_assert_eq!(decode_optional_response::<Goodbye>(&encode_response(&goodbye).unwrap()).unwrap(), Some(goodbye));
        let message = ErrorMessage::from_text(&text);
        let err = decode_response::<Ping>(&encode_error_response(ResponseCode::ServerError, &message).unwrap()).unwrap_err();
        let is_server_error = matches!(err, CodecError::ErrorResponse { code: ResponseCode::ServerError, message: m } if m == message.text());
        prop_assert!(is_server_error);
    }
}
