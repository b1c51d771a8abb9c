//! Prometheus collectors over a running sentry's counters: the discv5 crawler (nodes known,
//! FINDNODE requests and failures), the sentry (peers tracked, handshakes, gossip
//! attestations) and the libp2p host (peers connected). Register them in a
//! `prometheus_client` registry with [`SentryService::register_metrics`]; the series derived
//! from the events themselves (handshakes by client, peers by fork digest) come from the
//! sink side (`valtrack_sink::metrics::MetricsSink`).
//!
//! [`SentryService::register_metrics`]: crate::SentryService::register_metrics

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use crate::crawler::Discv5Crawler;
use crate::host::Host;
use crate::sentry::SentryStats;

/// Reads the crawler's, the sentry's and the host's counters at each scrape.
pub(crate) struct SentryCollector {
    pub(crate) crawler: Arc<Discv5Crawler>,
    pub(crate) stats: Arc<SentryStats>,
    pub(crate) host: Host,
}

impl std::fmt::Debug for SentryCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentryCollector").finish_non_exhaustive()
    }
}

fn counter(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Counter)?)
}

fn gauge(e: &mut DescriptorEncoder<'_>, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let v = i64::try_from(v).unwrap_or(i64::MAX);
    ConstGauge::new(v).encode(e.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

fn histogram(
    e: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &crate::host::LatenessSnapshot,
) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            h.sum().as_secs_f64(),
            h.reads(),
            &h.buckets(),
            None,
        )
}

impl Collector for SentryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let c = self.crawler.stats();
        let s = &self.stats;
        let e = &mut encoder;
        gauge(
            e,
            "crawler_nodes_known",
            "Nodes the discv5 crawler knows now (every network)",
            c.known,
        )?;
        gauge(
            e,
            "crawler_nodes_queued",
            "Nodes waiting to have their routing table enumerated",
            c.queued,
        )?;
        counter(
            e,
            "crawler_nodes_found",
            "Nodes the crawler reported new",
            c.found,
        )?;
        counter(
            e,
            "crawler_nodes_gone",
            "Nodes the crawler reported gone",
            c.gone,
        )?;
        counter(
            e,
            "crawler_findnode_requests",
            "FINDNODE requests sent",
            c.requests,
        )?;
        counter(
            e,
            "crawler_findnode_failures",
            "FINDNODE requests that failed (timeout, no session, unreachable)",
            c.failures,
        )?;
        counter(
            e,
            "crawler_invalid_replies",
            "NODES replies with records at distances not asked for (dropped)",
            c.invalid_replies,
        )?;
        counter(e, "crawler_lookups", "Random lookups run", c.lookups)?;
        gauge(
            e,
            "sentry_peers_tracked",
            "Beacon nodes the sentry tracks and revisits",
            s.peers.load(Relaxed),
        )?;
        gauge(
            e,
            "sentry_peers_connected",
            "Peers with an open libp2p connection now",
            self.host.connected_peers(),
        )?;
        gauge(
            e,
            "sentry_gossip_mesh_links",
            "GossipSub mesh links now, summed over subscribed topics (0 out of meshes)",
            self.host.gossip_mesh_links(),
        )?;
        counter(
            e,
            "sentry_inbound_handshakes",
            "Handshakes with peers that dialed us (successful or not)",
            s.inbound.load(Relaxed),
        )?;
        let t = self.host.traffic();
        histogram(
            e,
            "libp2p_tcp_read_lateness_seconds",
            "How long bytes waited in the kernel before a read of a libp2p TCP socket took them (arrival from the kernel's receive timestamp)",
            &t.read_lateness.snapshot(),
        )?;
        histogram(
            e,
            "sentry_gossip_earlier_copy_seconds",
            "GossipSub duplicates stamped before the copy of their message that was delivered first (handed on out of arrival order), by how much earlier",
            &t.earlier_copies.snapshot(),
        )?;
        let d = self.host.gossip_defence();
        for (name, help, value) in [
            (
                "sentry_gossip_recredited",
                "First deliveries credited instead to a copy stamped earlier, reported while they were held",
                &t.recredited,
            ),
            (
                "sentry_gossip_earlier_copy_unheld",
                "Copies stamped before their message's first delivery, reported when it was not held (handed on already, or not a sound attestation)",
                &t.earlier_unheld,
            ),
            (
                "libp2p_tcp_received_bytes",
                "Bytes read from libp2p TCP connections (noise and muxer framing included)",
                &t.received,
            ),
            (
                "libp2p_tcp_sent_bytes",
                "Bytes written to libp2p TCP connections (noise and muxer framing included)",
                &t.sent,
            ),
            (
                "gossip_rejected",
                "Attestation messages REJECTed as not the topic's SSZ (their senders penalised)",
                &d.rejected,
            ),
            (
                "gossip_out_of_window",
                "Attestation messages outside the gossip window, IGNOREd and penalised",
                &d.untimely,
            ),
            (
                "gossip_peers_banned",
                "Peers disconnected and banned for their GossipSub score",
                &d.banned,
            ),
            (
                "gossip_banned_connections_closed",
                "Connections from or to a banned peer closed at once",
                &d.refused,
            ),
            (
                "gossip_attestations_lagged",
                "Attestation messages lost because attribution fell too far behind the host",
                &d.lagged,
            ),
        ] {
            counter(e, name, help, value.load(Relaxed))?;
        }
        gauge(
            e,
            "gossip_peers_banned_now",
            "Peers banned now (bans last ten minutes)",
            d.banned_now.load(Relaxed),
        )?;
        let received = s.attestations.load(Relaxed);
        let undecodable = s.attestation_errors.load(Relaxed);
        counter(
            e,
            "gossip_attestations_received",
            "Messages received on attestation subnets",
            received,
        )?;
        counter(
            e,
            "gossip_attestations_decoded",
            "Of those, messages that decoded",
            received.saturating_sub(undecodable),
        )?;
        counter(
            e,
            "gossip_attestations_untimely",
            "Decoded attestations outside the gossip window (dropped)",
            s.attestations_untimely.load(Relaxed),
        )?;
        counter(
            e,
            "gossip_attestations_attributed",
            "Attestations attributed to the peer that delivered them first",
            s.attributions.load(Relaxed),
        )?;
        counter(
            e,
            "gossip_attestations_resolved",
            "Phase0 attestations whose validator was named through the beacon API",
            s.resolved.load(Relaxed),
        )
    }
}
