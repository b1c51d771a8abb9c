//! Criterion benchmarks of valtrack-core's hot paths: ENR decoding, `ssz_snappy` decoding of
//! Status and MetaData, gossip decoding of a `SingleAttestation` beside raw snappy
//! decompression of the same bytes, and what a consumer does per event: JSON decoding of
//! events (beside serde's general path) and PeerIds to and from text (beside the `bs58` crate).
//!
//! Run: `cargo bench --bench core`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use valtrack::core::codec::{decode_gossip, decode_response, encode_gossip, gossip_len_bound};
use valtrack::core::ssz::{AttestationData, Checkpoint, MetaDataV2, SingleAttestation, StatusV1};
use valtrack::core::{parse_enr, EnrInfo, Event, PeerId};

/// Mainnet bootnode ENRs of several shapes (EF, Lighthouse with IPv6, Teku without eth2).
const ENRS: &[(&str, &str)] = &[
    ("ef", "enr:-Ku4QHqVeJ8PPICcWk1vSn_XcSkjOkNiTg6Fmii5j6vUQgvzMc9L1goFnLKgXqBJspJjIsB91LTOleFmyWWrFVATGngBh2F0dG5ldHOIAAAAAAAAAACEZXRoMpC1MD8qAAAAAP__________gmlkgnY0gmlwhAMRHkWJc2VjcDI1NmsxoQKLVXFOhp2uX6jeT0DvvDpPcU8FWMjQdR4wMuORMhpX24N1ZHCCIyg"),
    ("lighthouse_ip6", "enr:-Le4QPUXJS2BTORXxyx2Ia-9ae4YqA_JWX3ssj4E_J-3z1A-HmFGrU8BpvpqhNabayXeOZ2Nq_sbeDgtzMJpLLnXFgAChGV0aDKQtTA_KgEAAAAAIgEAAAAAAIJpZIJ2NIJpcISsaa0Zg2lwNpAkAIkHAAAAAPA8kv_-awoTiXNlY3AyNTZrMaEDHAD2JKYevx89W0CcFJFiskdcEzkH_Wdv9iW42qLK79ODdWRwgiMohHVkcDaCI4I"),
    ("teku_no_eth2", "enr:-Iu4QLm7bZGdAt9NSeJG0cEnJohWcQTQaI9wFLu3Q7eHIDfrI4cwtzvEW3F3VbG9XdFXlrHyFGeXPn9snTCQJ9bnMRABgmlkgnY0gmlwhAOTJQCJc2VjcDI1NmsxoQIZdZD6tDYpkpEfVo5bgiU8MGRjhcOmHGD2nErK0UKRrIN0Y3CCIyiDdWRwgiMo"),
];

fn enr_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("enr");
    for (name, text) in ENRS {
        // text → signed record (base64, RLP, signature check) → typed eth2 fields
        g.bench_with_input(BenchmarkId::new("parse_and_fields", name), text, |b, t| {
            b.iter(|| EnrInfo::from_enr(&parse_enr(black_box(t)).unwrap()).unwrap())
        });
    }
    let enr = parse_enr(ENRS[0].1).unwrap();
    g.bench_function("fields_only/ef", |b| {
        b.iter(|| EnrInfo::from_enr(black_box(&enr)).unwrap())
    });
    g.finish();
}

/// Real bytes from Lodestar 1.5.1 (testdata/lodestar, captured per WIRE.md).
const LODESTAR_STATUS_RESPONSE: &str =
    include_str!("../valtrack-core/testdata/lodestar/status_response.hex");
const LODESTAR_METADATA_RESPONSE: &str =
    include_str!("../valtrack-core/testdata/lodestar/metadata_v2_response.hex");

fn req_resp_decode(c: &mut Criterion) {
    let status = hex::decode(LODESTAR_STATUS_RESPONSE.trim()).unwrap();
    let metadata = hex::decode(LODESTAR_METADATA_RESPONSE.trim()).unwrap();
    let mut g = c.benchmark_group("ssz_snappy");
    g.throughput(Throughput::Bytes(status.len() as u64));
    g.bench_function("status_v1_response", |b| {
        b.iter(|| decode_response::<StatusV1>(black_box(&status)).unwrap())
    });
    g.throughput(Throughput::Bytes(metadata.len() as u64));
    g.bench_function("metadata_v2_response", |b| {
        b.iter(|| decode_response::<MetaDataV2>(black_box(&metadata)).unwrap())
    });
    g.finish();
}

fn single_attestation() -> SingleAttestation {
    // Realistic entropy: random-looking roots and signature (they dominate the 240 bytes).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x.to_le_bytes()
    };
    let mut root = || {
        let mut r = [0u8; 32];
        for c in r.chunks_mut(8) {
            c.copy_from_slice(&rnd());
        }
        r
    };
    let (block, source, target) = (root(), root(), root());
    let sig: Vec<u8> = (0..96)
        .map(|i| block[i % 32] ^ target[(i * 7) % 32])
        .collect();
    SingleAttestation {
        committee_index: 17,
        attester_index: 1_234_567,
        data: AttestationData {
            slot: 13_400_000,
            index: 0,
            beacon_block_root: block,
            source: Checkpoint {
                epoch: 418_749,
                root: source,
            },
            target: Checkpoint {
                epoch: 418_750,
                root: target,
            },
        },
        signature: sig.try_into().unwrap(),
    }
}

fn gossip_decode(c: &mut Criterion) {
    let raw = encode_gossip(&single_attestation()).unwrap();
    let mut g = c.benchmark_group("gossip_single_attestation");
    g.throughput(Throughput::Elements(1));
    g.bench_function("snappy_and_ssz", |b| {
        b.iter(|| {
            decode_gossip::<SingleAttestation>(
                black_box(&raw),
                gossip_len_bound::<SingleAttestation>(),
            )
            .unwrap()
        })
    });
    let mut decoder = snap::raw::Decoder::new();
    g.bench_function("raw_snappy_only", |b| {
        b.iter(|| decoder.decompress_vec(black_box(&raw)).unwrap())
    });
    g.finish();
}

/// Events as `valtrack sentry --network sim --attestations` wrote them (`--sink jsonl:`):
/// an attestation, a handshake and a discovery.
const EVENTS: &str = include_str!("data/events.jsonl");

fn event_json(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_json");
    for line in EVENTS.lines() {
        let event = Event::from_json(line.as_bytes()).unwrap();
        let kind = event.kind().as_str();
        g.throughput(Throughput::Bytes(line.len() as u64));
        g.bench_with_input(BenchmarkId::new("from_json", kind), line, |b, l| {
            b.iter(|| Event::from_json(black_box(l.as_bytes())).unwrap())
        });
        // serde's internally-tagged path, which buffers the object first
        g.bench_with_input(
            BenchmarkId::new("serde_general_path", kind),
            line,
            |b, l| b.iter(|| serde_json::from_slice::<Event>(black_box(l.as_bytes())).unwrap()),
        );
        g.bench_with_input(BenchmarkId::new("to_json", kind), &event, |b, e| {
            b.iter(|| black_box(e).to_json())
        });
    }
    g.finish();
}

fn peer_id_text(c: &mut Criterion) {
    let peer: PeerId = "16Uiu2HAm4oaDUR2JCEyotxAs7eEVkCVJffoBKiTs8So4HkERrdpW"
        .parse()
        .unwrap();
    let text = peer.to_string();
    let bytes = peer.to_bytes();
    let mut g = c.benchmark_group("peer_id");
    g.bench_function("to_string", |b| b.iter(|| black_box(peer).to_string()));
    g.bench_function("to_string_bs58_crate", |b| {
        b.iter(|| bs58::encode(black_box(bytes)).into_string())
    });
    // the key's curve check is cached per thread, as it is for a stream of events
    g.bench_function("parse", |b| {
        b.iter(|| black_box(text.as_str()).parse::<PeerId>().unwrap())
    });
    g.bench_function("parse_bs58_crate_decode_only", |b| {
        b.iter(|| bs58::decode(black_box(text.as_str())).into_vec().unwrap())
    });
    g.finish();
}

criterion_group!(
    benches,
    enr_decode,
    req_resp_decode,
    gossip_decode,
    event_json,
    peer_id_text
);
criterion_main!(benches);
