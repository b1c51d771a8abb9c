//! Replays the kept inputs of the `ssz_differential` fuzz target (`fuzz/corpus/`,
//! `fuzz/regressions/`) on stable: our SSZ and `ethereum_ssz` agree on every one.

mod common {
    pub(crate) mod ssz_mirror;
}

#[test]
fn our_ssz_and_ethereum_ssz_agree_on_every_kept_input() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut n = 0;
    for dir in ["corpus", "regressions"] {
        let dir = fuzz.join(dir).join("ssz_differential");
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            let outcome = std::panic::catch_unwind(|| common::ssz_mirror::ssz_differential(&data));
            assert!(outcome.is_ok(), "{} fails", entry.path().display());
            n += 1;
        }
    }
    assert!(n > 0, "no corpus (fuzz/seed.py writes the seeds)");
}
