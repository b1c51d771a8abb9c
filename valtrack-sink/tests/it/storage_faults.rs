//! Storage faults: a filesystem that fills and frees, one that turns read-only and back, and
//! a crash with the journal on, under the ParquetSink (nothing accepted may be lost) and the
//! tracker store (it recovers without a restart).
//!
//! The filesystem tests mount a small tmpfs, which needs root (or CAP_SYS_ADMIN); where
//! mounting fails they print why and return, unless `VALTRACK_REQUIRE_TMPFS` is set (as
//! `scripts/check` does when it runs as root): then they fail.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use std::sync::Arc;

use valtrack_core::{Event, EventKind, EventSink, PeerId};
use valtrack_sink::{ParquetSink, ParquetSinkConfig, TrackerSink, TrackerStore};

use crate::fixtures;
use crate::parquet::{files, read_table, rows};

/// A tmpfs of `size` mounted on a new directory; unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let mounted = Self::try_mount(size);
        assert!(
            mounted.is_some() || std::env::var_os("VALTRACK_REQUIRE_TMPFS").is_none(),
            "VALTRACK_REQUIRE_TMPFS is set and no tmpfs could be mounted"
        );
        mounted
    }

    fn try_mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Self { path, _dir: dir }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED: cannot mount a tmpfs (needs root): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: cannot run mount: {e}");
                None
            }
        }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the filesystem of `dir` with one file; returns it.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    // Down to the last byte: a page left free would take a few more writes.
    for size in [64 * 1024, 4096, 512, 1] {
        let chunk = vec![0xa5u8; size];
        while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn source(err: &valtrack_core::SinkError) -> String {
    std::error::Error::source(err).map_or_else(|| err.to_string(), ToString::to_string)
}

#[tokio::test]
async fn a_full_disk_holds_every_row_and_writes_it_once_space_is_freed() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let dir = fs.path.join("data");
    let sink = ParquetSink::open(ParquetSinkConfig::builder(&dir).build().unwrap()).unwrap();
    let filler = fill(&fs.path);
    let n = 3_000u64;
    for i in 0..n {
        sink.send(fixtures::discovery_at(i, fixtures::T0 + i))
            .await
            .unwrap();
    }
    let err = sink.flush().await.unwrap_err();
    let message = source(&err);
    assert!(message.contains("No space left on device"), "{message}");
    assert!(message.contains(&*dir.to_string_lossy()), "{message}");
    let stats = sink.stats();
    assert_eq!((stats.published_total(), stats.held), (0, n));
    assert!(stats.fault.unwrap().contains("No space left on device"));
    // Space comes back: the retry writes every held row without a flush, and the fault
    // clears. (The writer counts a segment's rows written before it clears the fault, and
    // then only once its journals sync again: two moments, so wait for both.)
    std::fs::remove_file(filler).unwrap();
    wait_for("held rows written and the fault cleared", 15, || {
        let stats = sink.stats();
        stats.held == 0 && stats.fault.is_none()
    })
    .await;
    let stats = sink.stats();
    assert_eq!(
        (stats.published_in(EventKind::Discovery), stats.fault),
        (n, None)
    );
    assert_eq!(rows(&read_table(&dir, EventKind::Discovery)), n as usize);
    sink.flush().await.unwrap();
    sink.close().await.unwrap();
    assert!(
        files(&dir)
            .iter()
            .all(|p| p.extension().is_some_and(|e| e == "parquet")),
        "{:?}",
        files(&dir)
    );
}

#[tokio::test]
async fn an_unwritable_directory_holds_rows_up_to_the_bound_then_writes_them() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = fs.path.join("data");
    let config = ParquetSinkConfig::builder(&dir)
        .max_file_age(Duration::from_millis(200))
        .max_held_rows(64)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for i in 0..20 {
        sink.send(fixtures::discovery(i)).await.unwrap();
    }
    sink.flush().await.unwrap();
    fs.remount("ro");
    // Rotations by age fail while the filesystem is read-only; every row is held.
    for i in 20..84 {
        sink.send(fixtures::discovery(i)).await.unwrap();
    }
    wait_for("a failed write", 10, || sink.stats().write_errors > 0).await;
    let stats = sink.stats();
    assert_eq!((stats.published_total(), stats.held), (20, 64));
    assert!(
        stats
            .fault
            .as_deref()
            .unwrap()
            .contains("Read-only file system"),
        "{:?}",
        stats.fault
    );
    // At the bound, a send waits rather than drop anything.
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        sink.send(fixtures::discovery(84)),
    )
    .await;
    assert!(waiting.is_err(), "a send past max_held_rows did not wait");
    fs.remount("rw");
    sink.send(fixtures::discovery(84)).await.unwrap();
    sink.flush().await.unwrap();
    let stats = sink.stats();
    assert_eq!(
        (stats.published_total(), stats.held, stats.fault),
        (85, 0, None)
    );
    assert_eq!(rows(&read_table(&dir, EventKind::Discovery)), 85);
    sink.close().await.unwrap();
}

/// Copies a directory tree as it is on disk now.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn journaled_rows_survive_a_crash_and_are_published_once() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let config = ParquetSinkConfig::builder(&live)
        .journal(true)
        .build()
        .unwrap();
    let sink = ParquetSink::open(config).unwrap();
    for i in 0..10 {
        sink.send(fixtures::discovery(i)).await.unwrap();
    }
    for i in 0..3 {
        sink.send(fixtures::attestation(i)).await.unwrap();
    }
    // Synced within a second; the files stay open (15 min default age).
    wait_for("rows journaled", 10, || sink.stats().journaled == 13).await;
    assert_eq!(sink.stats().durable(), 13);
    assert_eq!(rows(&read_table(&live, EventKind::Discovery)), 0);
    // The crash: what is on disk now, reopened elsewhere.
    let crashed = tmp.path().join("crashed");
    copy_tree(&live, &crashed);
    let journals: Vec<PathBuf> = files(&crashed)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "journal"))
        .collect();
    assert_eq!(journals.len(), 2, "{:?}", files(&crashed));
    let saved: Vec<(PathBuf, Vec<u8>)> = journals
        .iter()
        .map(|p| (p.clone(), std::fs::read(p).unwrap()))
        .collect();
    let reopened =
        ParquetSink::open(ParquetSinkConfig::builder(&crashed).build().unwrap()).unwrap();
    reopened.flush().await.unwrap();
    assert_eq!(reopened.stats().published_total(), 13);
    reopened.close().await.unwrap();
    assert_eq!(rows(&read_table(&crashed, EventKind::Discovery)), 10);
    assert_eq!(rows(&read_table(&crashed, EventKind::Attestation)), 3);
    assert!(journals.iter().all(|p| !p.exists()), "journals not removed");
    // A crash between publishing a file and removing its journal: the journal is stale,
    // removed, and its rows not written twice.
    for (path, bytes) in saved {
        std::fs::write(path, bytes).unwrap();
    }
    let again = ParquetSink::open(ParquetSinkConfig::builder(&crashed).build().unwrap()).unwrap();
    again.close().await.unwrap();
    assert_eq!(rows(&read_table(&crashed, EventKind::Discovery)), 10);
    assert!(
        journals.iter().all(|p| !p.exists()),
        "stale journals not removed"
    );
    sink.close().await.unwrap();
    // The live sink published its own files and removed its journals.
    assert_eq!(rows(&read_table(&live, EventKind::Discovery)), 10);
    assert!(files(&live)
        .iter()
        .all(|p| p.extension().is_some_and(|e| e == "parquet")));
}

/// A discovery event of the `n`th of many distinct peers.
fn discovery_of_peer(n: u16) -> Event {
    let peer = (0..=255u8)
        .find_map(|b| {
            let mut key = [9u8; 33];
            key[0] = 2;
            key[1..3].copy_from_slice(&n.to_be_bytes());
            key[3] = b;
            PeerId::from_secp256k1(&key).ok()
        })
        .unwrap();
    let Event::Discovery(mut e) = fixtures::discovery(u64::from(n)) else {
        unreachable!()
    };
    e.meta.peer_id = peer;
    Event::Discovery(e)
}

#[tokio::test]
async fn the_tracker_recovers_from_a_full_disk_without_a_restart() {
    let Some(fs) = Tmpfs::mount("64m") else {
        return;
    };
    let store = Arc::new(TrackerStore::open(fs.path.join("tracker.redb")).unwrap());
    let sink = TrackerSink::new(store.clone());
    for n in 0..10 {
        sink.send(discovery_of_peer(n)).await.unwrap();
    }
    sink.flush().await.unwrap();
    // Applied, not yet durable: the reopen after the I/O error rolls the store back to the
    // flush above, and the sink must apply these again.
    for n in 10..500 {
        sink.send(discovery_of_peer(n)).await.unwrap();
    }
    wait_for("500 peers applied", 10, || {
        store.stats().unwrap().peers == 500
    })
    .await;
    let filler = fill(&fs.path);
    // Enough new peers (about 10 MB of records) that the file must grow; the writer holds
    // up to 16,384 events while it fails, and the queue 4,096.
    let n = 10_000;
    let sends = tokio::time::timeout(Duration::from_secs(60), async {
        for i in 500..n {
            sink.send(discovery_of_peer(i)).await.unwrap();
        }
    });
    sends
        .await
        .expect("sends waited on a failing store with room in the queue");
    let err = sink.flush().await.unwrap_err();
    assert!(sink.errors() > 0, "{err}");
    std::fs::remove_file(filler).unwrap();
    // Retried every second: the store reopens itself and applies what it kept.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sink.flush().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tracker did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(store.stats().unwrap().peers, u64::from(n));
}
