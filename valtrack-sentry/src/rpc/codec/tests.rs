//! The codec against real response bytes captured from Lodestar 1.5.1
//! (`testdata/lodestar-capture`), and our own bytes read back.

use futures::io::Cursor;
use libp2p::request_response::Codec;
use valtrack_core::{AttestationSubnets, MetaData, Status, SyncSubnets};

use super::*;

fn capture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/testdata/lodestar-capture/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

async fn read(protocol: Eth2Protocol, bytes: Vec<u8>) -> io::Result<RpcResponse> {
    Eth2Codec::default()
        .read_response(&protocol, &mut Cursor::new(bytes))
        .await
}

#[tokio::test]
async fn lodestar_status_responses() {
    for name in ["status_v1_response_a", "status_v1_response_b"] {
        let RpcResponse::Status(Status::V1(s)) =
            read(Eth2Protocol::StatusV1, capture(name)).await.unwrap()
        else {
            panic!("{name}: not a Status v1")
        };
        assert_eq!(hex::encode(s.fork_digest), "e9195d94", "{name}");
        assert_eq!(
            (s.finalized_epoch, s.finalized_root),
            (0, [0; 32]),
            "{name}"
        );
        assert_eq!(s.head_slot, 0, "{name}");
        assert_ne!(s.head_root, [0; 32], "{name}: the genesis block root");
    }
}

#[tokio::test]
async fn lodestar_metadata_and_ping_responses() {
    let RpcResponse::MetaData(MetaData::V2(a)) =
        read(Eth2Protocol::MetaDataV2, capture("metadata_v2_response_a"))
            .await
            .unwrap()
    else {
        panic!("not MetaData v2")
    };
    assert_eq!(a.seq_number, 1);
    assert_eq!(hex::encode(a.attnets().0), "004040480000c180");
    assert_eq!(a.syncnets(), SyncSubnets(0x0f));
    let RpcResponse::MetaData(MetaData::V2(b)) =
        read(Eth2Protocol::MetaDataV2, capture("metadata_v2_response_b"))
            .await
            .unwrap()
    else {
        panic!("not MetaData v2")
    };
    assert_eq!(
        (b.seq_number, b.attnets(), b.syncnets()),
        (0, AttestationSubnets::NONE, SyncSubnets(0))
    );
    for (name, seq) in [("ping_response_a", 1), ("ping_response_b", 0)] {
        let r = read(Eth2Protocol::Ping, capture(name)).await.unwrap();
        assert_eq!(r, RpcResponse::Ping(Ping { seq_number: seq }), "{name}");
    }
}

#[tokio::test]
async fn wrong_version_or_truncation_is_an_error() {
    // A MetaData v2 response read as v3 has the wrong length prefix for the type.
    let e = read(Eth2Protocol::MetaDataV3, capture("metadata_v2_response_a"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let mut cut = capture("status_v1_response_a");
    cut.truncate(cut.len() - 3);
    let e = read(Eth2Protocol::StatusV1, cut).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
}

#[tokio::test]
async fn ttfb_timeout_on_a_silent_peer() {
    // A reader that never yields a byte.
    struct Silent;
    impl futures::AsyncRead for Silent {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut [u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::task::Poll::Pending
        }
    }
    let ttfb = Duration::from_millis(50);
    let mut codec = Eth2Codec::new(RpcTimeouts {
        ttfb,
        resp: Duration::from_secs(5),
    });
    let e = codec
        .read_response(&Eth2Protocol::Ping, &mut Silent)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    assert_eq!(
        e.get_ref().unwrap().downcast_ref::<RpcTimeout>(),
        Some(&RpcTimeout::Ttfb(ttfb))
    );
}

#[tokio::test]
async fn our_responses_read_back_for_every_version() {
    let md = MetaData::V3(valtrack_core::ssz::MetaDataV3::new(
        9,
        AttestationSubnets::from_subnets([3, 4]),
        SyncSubnets(1),
        8,
    ));
    for protocol in Eth2Protocol::METADATA {
        let bytes = encode_response_bytes(protocol, RpcResponse::MetaData(md.clone())).unwrap();
        let RpcResponse::MetaData(back) = read(protocol, bytes).await.unwrap() else {
            panic!()
        };
        assert_eq!(back.seq_number(), 9);
        assert_eq!(back.attnets().subnets(), vec![3, 4]);
    }
    let status = Status::V2(valtrack_core::ssz::StatusV2 {
        head_slot: 77,
        ..Default::default()
    });
    for protocol in Eth2Protocol::STATUS {
        let bytes = encode_response_bytes(protocol, RpcResponse::Status(status.clone())).unwrap();
        let RpcResponse::Status(back) = read(protocol, bytes).await.unwrap() else {
            panic!()
        };
        assert_eq!(back.head().0, 77);
    }
    let err = encode_response_bytes(
        Eth2Protocol::Ping,
        RpcResponse::Error {
            code: ResponseCode::ResourceUnavailable,
            message: "busy".into(),
        },
    )
    .unwrap();
    let e = read(Eth2Protocol::Ping, err).await.unwrap_err();
    let codec_error = e.get_ref().unwrap().downcast_ref::<CodecError>().unwrap();
    assert_eq!(
        codec_error.response_code(),
        Some(ResponseCode::ResourceUnavailable)
    );
}
