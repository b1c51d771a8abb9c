//! The Arrow schemas of the event tables, and events → `RecordBatch`.
//!
//! One function per table builds both: [`schema`] is the schema of an empty batch, so the
//! schema and the encoder cannot disagree.

use std::fmt::{Display, Write as _};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, ListBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMillisecondArray, UInt16Array, UInt32Array, UInt64Array,
    UInt8Array, UInt8Builder,
};
use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use serde::Serialize;
use valtrack_core::events::{
    AttestationEvent, DiscoveryEvent, MetadataEvent, PeerLocationEvent, ValidatorMetadataEvent,
};
use valtrack_core::{AttestationSubnets, Event, EventKind, EventMeta, SyncSubnets};

/// The time zone of every `timestamp` column.
pub(crate) const TIMESTAMP_TZ: &str = "UTC";

/// The Arrow schema of `kind`'s table.
///
/// See the crate docs for the columns of each table.
pub fn schema(kind: EventKind) -> SchemaRef {
    // An empty batch of a known kind always builds.
    encode(kind, &[]).expect("an empty batch encodes").schema()
}

/// Encodes events of one kind (events of other kinds in `events` are skipped).
pub(crate) fn encode(kind: EventKind, events: &[Event]) -> Result<RecordBatch, ArrowError> {
    match kind {
        EventKind::Discovery => discovery(
            &events
                .iter()
                .filter_map(|e| match e {
                    Event::Discovery(d) => Some(d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        EventKind::Metadata => metadata(
            &events
                .iter()
                .filter_map(|e| match e {
                    Event::Metadata(d) => Some(d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        EventKind::ValidatorMetadata => validator_metadata(
            &events
                .iter()
                .filter_map(|e| match e {
                    Event::ValidatorMetadata(d) => Some(d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        EventKind::Attestation => attestation(
            &events
                .iter()
                .filter_map(|e| match e {
                    Event::Attestation(d) => Some(d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        EventKind::PeerLocation => peer_location(
            &events
                .iter()
                .filter_map(|e| match e {
                    Event::PeerLocation(d) => Some(d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        ),
        other => Err(ArrowError::NotYetImplemented(format!(
            "no table for event kind {}",
            other.as_str()
        ))),
    }
}

/// The snake-case wire name of a unit enum (`first_seen`, `too_many_peers`).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => format!("<{e}>"),
    }
}

fn attnets(v: &AttestationSubnets) -> Vec<u8> {
    v.subnets().into_iter().map(|s| s as u8).collect()
}

fn syncnets(v: &SyncSubnets) -> Vec<u8> {
    v.subnets().into_iter().map(|s| s as u8).collect()
}

/// Columns under construction.
#[derive(Default)]
struct Columns {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn push(&mut self, name: &str, nullable: bool, array: ArrayRef) {
        self.fields
            .push(Field::new(name, array.data_type().clone(), nullable));
        self.arrays.push(array);
    }

    fn utf8<S: AsRef<str>>(&mut self, name: &str, values: impl IntoIterator<Item = S>) {
        let array: StringArray = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(array));
    }

    fn utf8_opt<S: AsRef<str>>(&mut self, name: &str, values: impl IntoIterator<Item = Option<S>>) {
        let array: StringArray = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    /// Values written in their `Display` form straight into the column (no `String` a row).
    fn display<D: Display>(&mut self, name: &str, values: impl IntoIterator<Item = D>) {
        self.display_opt_as(name, false, values.into_iter().map(Some));
    }

    /// [`display`](Self::display) with nulls.
    fn display_opt<D: Display>(&mut self, name: &str, values: impl IntoIterator<Item = Option<D>>) {
        self.display_opt_as(name, true, values);
    }

    fn display_opt_as<D: Display>(
        &mut self,
        name: &str,
        nullable: bool,
        values: impl IntoIterator<Item = Option<D>>,
    ) {
        let mut builder = StringBuilder::new();
        for value in values {
            match value {
                Some(v) => {
                    // Writing to the builder's buffer cannot fail.
                    let _ = write!(builder, "{v}");
                    builder.append_value("");
                }
                None => builder.append_null(),
            }
        }
        self.push(name, nullable, Arc::new(builder.finish()));
    }

    /// A column of unit-enum values by their wire names ([`name`]), each distinct value
    /// named once per batch rather than once per row.
    fn names<T: Serialize + Copy + PartialEq>(
        &mut self,
        column: &str,
        nullable: bool,
        values: impl IntoIterator<Item = Option<T>>,
    ) {
        let mut named: Vec<(T, String)> = Vec::new();
        let mut builder = StringBuilder::new();
        for value in values {
            match value {
                Some(v) => {
                    let i = match named.iter().position(|(seen, _)| *seen == v) {
                        Some(i) => i,
                        None => {
                            named.push((v, name(&v)));
                            named.len() - 1
                        }
                    };
                    builder.append_value(&named[i].1);
                }
                None => builder.append_null(),
            }
        }
        self.push(column, nullable, Arc::new(builder.finish()));
    }

    fn u64(&mut self, name: &str, values: impl IntoIterator<Item = u64>) {
        let array: UInt64Array = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(array));
    }

    fn u64_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<u64>>) {
        let array: UInt64Array = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    fn u16_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<u16>>) {
        let array: UInt16Array = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    fn u8_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<u8>>) {
        let array: UInt8Array = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    fn u32_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<u32>>) {
        let array: UInt32Array = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    fn f64_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<f64>>) {
        let array: Float64Array = values.into_iter().collect();
        self.push(name, true, Arc::new(array));
    }

    fn i64(&mut self, name: &str, values: impl IntoIterator<Item = i64>) {
        let array: Int64Array = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(array));
    }

    fn f32(&mut self, name: &str, values: impl IntoIterator<Item = f32>) {
        let array: Float32Array = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(array));
    }

    fn bool(&mut self, name: &str, values: impl IntoIterator<Item = bool>) {
        let array: BooleanArray = values.into_iter().map(Some).collect();
        self.push(name, false, Arc::new(array));
    }

    /// `List<UInt8>` of subnet ids; `None` is a null list (field absent), not an empty one.
    fn subnets(
        &mut self,
        name: &str,
        nullable: bool,
        values: impl IntoIterator<Item = Option<Vec<u8>>>,
    ) {
        let mut builder = ListBuilder::new(UInt8Builder::new());
        for row in values {
            match row {
                Some(ids) => {
                    builder.values().append_slice(&ids);
                    builder.append(true);
                }
                None => builder.append(false),
            }
        }
        self.push(name, nullable, Arc::new(builder.finish()));
    }

    /// `List<Utf8>`, never null.
    fn strings<R, S>(&mut self, name: &str, values: impl IntoIterator<Item = R>)
    where
        R: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = ListBuilder::new(StringBuilder::new());
        for row in values {
            for s in row {
                builder.values().append_value(s);
            }
            builder.append(true);
        }
        self.push(name, false, Arc::new(builder.finish()));
    }

    /// The columns every table starts with.
    fn meta<'a>(&mut self, metas: impl Iterator<Item = &'a EventMeta> + Clone) {
        self.utf8("event_id", metas.clone().map(|m| &m.event_id));
        self.utf8("crawler_id", metas.clone().map(|m| &m.crawler_id));
        self.utf8(
            "crawler_location",
            metas.clone().map(|m| &m.crawler_location),
        );
        let ts: Vec<i64> = metas
            .clone()
            .map(|m| i64::try_from(m.timestamp).unwrap_or(i64::MAX))
            .collect();
        let ts = TimestampMillisecondArray::from(ts).with_timezone(TIMESTAMP_TZ);
        self.push("timestamp", false, Arc::new(ts));
        self.display("peer_id", metas.clone().map(|m| m.peer_id));
        self.display("node_id", metas.clone().map(|m| m.node_id));
        self.utf8_opt("enr", metas.map(|m| m.enr.as_deref()));
    }

    fn finish(self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.arrays)
    }
}

fn discovery(events: &[&DiscoveryEvent]) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::default();
    let it = || events.iter().copied();
    c.meta(it().map(|e| &e.meta));
    c.names("reason", false, it().map(|e| Some(e.reason)));
    c.u64("seq", it().map(|e| e.seq));
    c.display_opt("ip", it().map(|e| e.ip));
    c.display_opt("ip6", it().map(|e| e.ip6));
    c.u16_opt("tcp_port", it().map(|e| e.tcp_port));
    c.u16_opt("udp_port", it().map(|e| e.udp_port));
    c.u16_opt("quic_port", it().map(|e| e.quic_port));
    c.display_opt("fork_digest", it().map(|e| e.fork_digest));
    c.display_opt("next_fork_version", it().map(|e| e.next_fork_version));
    c.u64_opt("next_fork_epoch", it().map(|e| e.next_fork_epoch));
    c.display_opt("nfd", it().map(|e| e.nfd));
    c.subnets(
        "attnets",
        true,
        it().map(|e| e.attnets.as_ref().map(attnets)),
    );
    c.subnets(
        "syncnets",
        true,
        it().map(|e| e.syncnets.as_ref().map(syncnets)),
    );
    c.u64_opt("cgc", it().map(|e| e.cgc));
    c.names("class", false, it().map(|e| Some(e.class)));
    c.strings(
        "enr_issues",
        it().map(|e| e.enr_issues.iter().map(ToString::to_string)),
    );
    c.finish()
}

fn metadata(events: &[&MetadataEvent]) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::default();
    let it = || events.iter().copied();
    c.meta(it().map(|e| &e.meta));
    c.utf8_opt("multiaddr", it().map(|e| e.multiaddr.as_deref()));
    c.names("direction", false, it().map(|e| Some(e.direction)));
    c.names("transport", true, it().map(|e| e.transport));
    c.names("muxer", true, it().map(|e| e.muxer));
    // status_*
    let status = || it().map(|e| e.status.as_ref());
    c.u8_opt("status_version", status().map(|s| s.map(|s| s.version)));
    c.display_opt(
        "status_fork_digest",
        status().map(|s| s.map(|s| s.fork_digest)),
    );
    c.utf8_opt(
        "status_finalized_root",
        status().map(|s| s.map(|s| hex_root(&s.finalized_root))),
    );
    c.u64_opt(
        "status_finalized_epoch",
        status().map(|s| s.map(|s| s.finalized_epoch)),
    );
    c.utf8_opt(
        "status_head_root",
        status().map(|s| s.map(|s| hex_root(&s.head_root))),
    );
    c.u64_opt("status_head_slot", status().map(|s| s.map(|s| s.head_slot)));
    c.u64_opt(
        "status_earliest_available_slot",
        status().map(|s| s.and_then(|s| s.earliest_available_slot)),
    );
    // metadata_*
    let md = || it().map(|e| e.metadata.as_ref());
    c.u8_opt("metadata_version", md().map(|m| m.map(|m| m.version)));
    c.u64_opt("metadata_seq_number", md().map(|m| m.map(|m| m.seq_number)));
    c.subnets(
        "metadata_attnets",
        true,
        md().map(|m| m.map(|m| attnets(&m.attnets))),
    );
    c.subnets(
        "metadata_syncnets",
        true,
        md().map(|m| m.and_then(|m| m.syncnets.as_ref().map(syncnets))),
    );
    c.u64_opt(
        "metadata_custody_group_count",
        md().map(|m| m.and_then(|m| m.custody_group_count)),
    );
    // client
    c.utf8_opt("agent_version", it().map(|e| e.agent_version.as_deref()));
    let client = || it().map(|e| e.client.as_ref());
    c.display_opt("client_name", client().map(|k| k.map(|k| k.kind)));
    c.utf8_opt(
        "client_version",
        client().map(|k| k.and_then(|k| k.version.as_deref())),
    );
    c.utf8_opt(
        "client_os",
        client().map(|k| k.and_then(|k| k.os.as_deref())),
    );
    c.utf8_opt(
        "client_arch",
        client().map(|k| k.and_then(|k| k.arch.as_deref())),
    );
    // gossip
    c.subnets(
        "subscribed_attnets",
        true,
        it().map(|e| e.subscribed_attnets.as_ref().map(attnets)),
    );
    c.subnets(
        "subscribed_syncnets",
        true,
        it().map(|e| e.subscribed_syncnets.as_ref().map(syncnets)),
    );
    c.strings("protocols", it().map(|e| &e.protocols));
    // timings
    c.u64_opt("connect_ms", it().map(|e| e.timings.connect_ms));
    c.u64_opt("status_ms", it().map(|e| e.timings.status_ms));
    c.u64_opt("metadata_ms", it().map(|e| e.timings.metadata_ms));
    c.u64_opt("ping_ms", it().map(|e| e.timings.ping_ms));
    c.u64_opt("total_ms", it().map(|e| e.timings.total_ms));
    // error
    let err = || it().map(|e| e.error.as_ref());
    c.names("error_kind", true, err().map(|f| f.map(|f| f.kind)));
    c.u64_opt(
        "goodbye_code",
        err().map(|f| f.and_then(|f| f.goodbye_code)),
    );
    c.utf8_opt(
        "error_message",
        err().map(|f| f.map(|f| f.message.as_str())),
    );
    c.finish()
}

fn validator_metadata(events: &[&ValidatorMetadataEvent]) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::default();
    let it = || events.iter().copied();
    c.meta(it().map(|e| &e.meta));
    c.u64("epoch", it().map(|e| e.epoch));
    c.subnets(
        "long_lived_subnets",
        false,
        it().map(|e| Some(attnets(&e.long_lived_subnets))),
    );
    c.subnets(
        "predicted_subnets",
        false,
        it().map(|e| Some(attnets(&e.predicted_subnets))),
    );
    c.bool(
        "matches_node_id_prediction",
        it().map(|e| e.matches_node_id_prediction),
    );
    c.subnets(
        "short_lived_subnets",
        false,
        it().map(|e| Some(attnets(&e.short_lived_subnets))),
    );
    c.bool("all_subnets", it().map(|e| e.all_subnets));
    c.u64_opt("custody_group_count", it().map(|e| e.custody_group_count));
    c.u64_opt("stake_min_eth", it().map(|e| e.stake_min_eth));
    c.u64_opt("stake_max_eth", it().map(|e| e.stake_max_eth));
    c.u64("estimated_validators", it().map(|e| e.estimated_validators));
    c.names("method", false, it().map(|e| Some(e.method)));
    c.f32("confidence", it().map(|e| e.confidence));
    c.u64(
        "attributed_validators",
        it().map(|e| e.attributed_validators),
    );
    c.u64("vantage_points", it().map(|e| u64::from(e.vantage_points)));
    c.u64("contested_validators", it().map(|e| e.contested_validators));
    c.finish()
}

fn attestation(events: &[&AttestationEvent]) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::default();
    let it = || events.iter().copied();
    c.meta(it().map(|e| &e.meta));
    c.names("form", false, it().map(|e| Some(e.form)));
    c.u64("subnet", it().map(|e| e.subnet));
    c.u64("slot", it().map(|e| e.slot));
    c.u64("committee_index", it().map(|e| e.committee_index));
    c.u64_opt("attester_index", it().map(|e| e.attester_index));
    c.u64_opt("aggregation_bit", it().map(|e| e.aggregation_bit));
    c.u64("target_epoch", it().map(|e| e.target_epoch));
    c.utf8(
        "beacon_block_root",
        it().map(|e| hex_root(&e.beacon_block_root)),
    );
    c.i64("first_seen_delay_ms", it().map(|e| e.first_seen_delay_ms));
    c.names("evidence", true, it().map(|e| e.evidence));
    c.finish()
}

fn peer_location(events: &[&PeerLocationEvent]) -> Result<RecordBatch, ArrowError> {
    let mut c = Columns::default();
    let it = || events.iter().copied().map(|e| &e.location);
    c.meta(events.iter().map(|e| &e.meta));
    c.display("ip", it().map(|l| l.ip));
    c.names("address_kind", false, it().map(|l| Some(l.kind)));
    c.utf8_opt("country", it().map(|l| l.country.as_deref()));
    c.utf8_opt("city", it().map(|l| l.city.as_deref()));
    c.f64_opt("latitude", it().map(|l| l.latitude));
    c.f64_opt("longitude", it().map(|l| l.longitude));
    c.u32_opt("asn", it().map(|l| l.asn));
    c.utf8_opt("as_org", it().map(|l| l.as_org.as_deref()));
    c.bool("hosting", it().map(|l| l.hosting));
    c.finish()
}

/// `0x`-prefixed lowercase hex of a root, as in the JSON wire format, without allocating.
struct HexRoot([u8; 66]);

impl AsRef<str> for HexRoot {
    fn as_ref(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex is ASCII")
    }
}

fn hex_root(root: &[u8; 32]) -> HexRoot {
    let mut text = [0u8; 66];
    text[..2].copy_from_slice(b"0x");
    hex::encode_to_slice(root, &mut text[2..]).expect("64 hex digits fit");
    HexRoot(text)
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, TimeUnit};

    use super::*;

    #[test]
    fn every_table_has_the_common_columns_first() {
        for kind in EventKind::ALL {
            let schema = schema(kind);
            let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            assert_eq!(
                &names[..7],
                [
                    "event_id",
                    "crawler_id",
                    "crawler_location",
                    "timestamp",
                    "peer_id",
                    "node_id",
                    "enr"
                ]
            );
            assert_eq!(
                schema.field(3).data_type(),
                &DataType::Timestamp(TimeUnit::Millisecond, Some(TIMESTAMP_TZ.into()))
            );
        }
    }

    #[test]
    fn subnet_columns_are_lists_of_u8() {
        let schema = schema(EventKind::Discovery);
        let attnets = schema.field_with_name("attnets").unwrap();
        assert!(
            matches!(attnets.data_type(), DataType::List(f) if f.data_type() == &DataType::UInt8)
        );
        assert_eq!(
            hex_root(&[0xab; 32]).as_ref(),
            format!("0x{}", "ab".repeat(32))
        );
    }
}
