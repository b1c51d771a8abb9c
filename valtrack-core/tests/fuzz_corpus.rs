//! Replays every kept fuzz input (`fuzz/corpus/<target>/`, the corpus cargo fuzz grew, and
//! `fuzz/regressions/<target>/`, inputs that once crashed) through the same entry points the
//! fuzz targets call, on the stable toolchain: CI checks them without a fuzzer.

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 8] = [
    ("enr_text", valtrack_core::fuzz::enr_text),
    ("enr_rlp", valtrack_core::fuzz::enr_rlp),
    ("rpc_chunk", valtrack_core::fuzz::rpc_chunk),
    (
        "gossip_attestation",
        valtrack_core::fuzz::gossip_attestation,
    ),
    ("topic", valtrack_core::fuzz::topic),
    ("event_json", valtrack_core::fuzz::event_json),
    ("committees_json", valtrack_core::fuzz::committees_json),
    ("network_dir", valtrack_core::fuzz::network_dir),
];

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_kept_fuzz_input_replays_without_a_failure() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, target) in TARGETS {
        let corpus = inputs(&fuzz.join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "{name}: no corpus (fuzz/seed.py writes the seeds)"
        );
        let regressions = inputs(&fuzz.join("regressions").join(name));
        for path in corpus.iter().chain(&regressions) {
            let data = std::fs::read(path).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", path.display());
        }
        eprintln!(
            "{name}: {} corpus inputs, {} regressions",
            corpus.len(),
            regressions.len()
        );
    }
}
