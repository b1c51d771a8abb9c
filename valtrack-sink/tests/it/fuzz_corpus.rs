//! Replays the sink's kept fuzz inputs (`fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/`) through the entry points the fuzz targets call, on stable.

use std::path::Path;

fn replay(name: &str, target: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        for entry in std::fs::read_dir(fuzz.join(dir).join(name))
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.path().is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "{name}: no corpus (fuzz/seed.py writes the seeds)"
    );
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| target(&data));
        assert!(outcome.is_ok(), "{name}: {} fails", path.display());
    }
}

#[cfg(feature = "nats")]
#[test]
fn the_spool_fuzz_inputs_replay() {
    replay("spool", valtrack_sink::fuzz::spool);
}

#[cfg(feature = "api")]
#[test]
fn the_api_fuzz_inputs_replay() {
    replay("api_target", valtrack_sink::fuzz::api_target);
}
