//! Entry points of the sink's fuzz targets under `fuzz/` (cargo fuzz): the NATS spool's
//! on-disk files and the tracker API's request targets (path and query string). Each must
//! never panic; the same functions replay the kept corpus in `cargo test`. Not a stable API.

/// The NATS spool as a crash or another program may leave it: the input, split at its first
/// `0xff` byte, is a segment's bytes and the cursor file's text. Opening it, reading every
/// event back and advancing past them must work or fail cleanly, and what is read back is
/// whole lines of at most the line bound.
#[cfg(feature = "nats")]
pub fn spool(data: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "valtrack-fuzz-spool-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (segment, cursor) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    std::fs::write(dir.join(format!("seg-{:020}.jsonl", 0)), segment).expect("segment");
    if let Some(cursor) = cursor {
        std::fs::write(dir.join("cursor"), cursor).expect("cursor");
    }
    if let Ok(mut spool) = crate::nats::spool::Spool::open(&dir, 1 << 20, 1 << 16) {
        // Bounded: each round reads at most 64 events and advances past them.
        for _ in 0..64 {
            let Ok(batch) = spool.read(64) else {
                let _ = spool.forget_unreadable();
                break;
            };
            let Some((_, last)) = batch.last() else {
                break;
            };
            for (line, _) in &batch {
                assert!(!line.contains(&b'\n'), "a whole line, without its newline");
            }
            if spool.advance(*last, batch.len() as u64).is_err() {
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A request to the tracker API whose target (path and query string) is the input: it is
/// answered (never a 5xx, never a panic), and every answer is JSON.
#[cfg(feature = "api")]
pub fn api_target(data: &[u8]) {
    use std::sync::OnceLock;

    use axum::body::Body;
    use axum::http::Request;
    use tower_service::Service;

    static STATE: OnceLock<(tokio::runtime::Runtime, axum::Router)> = OnceLock::new();
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) =
        Request::get(format!("/{}", target.trim_start_matches('/'))).body(Body::empty())
    else {
        return; // not a valid request target: the HTTP parser refuses it before us
    };
    let (runtime, router) = STATE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("valtrack-fuzz-api-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = crate::TrackerStore::open(dir.join("tracker.redb")).expect("tracker store");
        for line in include_str!("../../fuzz/seeds/events.jsonl").lines() {
            if let Ok(event) = valtrack_core::Event::from_json(line.as_bytes()) {
                store.apply(&event, None).expect("seed event applies");
            }
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        (
            runtime,
            crate::router(std::sync::Arc::new(store), crate::ApiKeys::none()),
        )
    });
    let response = runtime
        .block_on(router.clone().call(request))
        .expect("the router is infallible");
    let status = response.status();
    assert!(!status.is_server_error(), "{target}: {status}");
    let body = runtime
        .block_on(axum::body::to_bytes(response.into_body(), 1 << 24))
        .expect("the body reads");
    assert!(
        serde_json::from_slice::<serde_json::Value>(&body).is_ok(),
        "{target}: not JSON"
    );
}
