//! Event rows into the event tables: the Parquet tables' Arrow batches, copied in binary
//! into a staging table and inserted from there, once per event id.

use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, ListArray, RecordBatch,
    StringArray, TimestampMillisecondArray, UInt16Array, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{DataType, TimeUnit};
use bytes::BytesMut;
use futures::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use valtrack_core::{Event, EventKind};

use super::PgError;

/// The PostgreSQL type of an Arrow column of the event tables, and its `udt_name` in
/// `information_schema.columns`; `None` for a type no table uses.
pub(crate) fn pg_type(data_type: &DataType) -> Option<(Type, &'static str)> {
    Some(match data_type {
        DataType::Utf8 => (Type::TEXT, "text"),
        DataType::Timestamp(TimeUnit::Millisecond, Some(_)) => (Type::TIMESTAMPTZ, "timestamptz"),
        DataType::UInt64 | DataType::UInt32 | DataType::Int64 => (Type::INT8, "int8"),
        DataType::UInt16 => (Type::INT4, "int4"),
        DataType::UInt8 => (Type::INT2, "int2"),
        DataType::Float32 => (Type::FLOAT4, "float4"),
        DataType::Float64 => (Type::FLOAT8, "float8"),
        DataType::Boolean => (Type::BOOL, "bool"),
        DataType::List(f) if f.data_type() == &DataType::UInt8 => (Type::INT2_ARRAY, "_int2"),
        DataType::List(f) if f.data_type() == &DataType::Utf8 => (Type::TEXT_ARRAY, "_text"),
        _ => return None,
    })
}

/// The latest instant `timestamptz` holds comfortably (9999-12-31T23:59:59.999Z); later
/// timestamps are stored as this.
pub(crate) const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// One value of a row.
#[derive(Debug)]
enum Cell {
    Text(Option<String>),
    Time(Option<SystemTime>),
    I64(Option<i64>),
    I32(Option<i32>),
    I16(Option<i16>),
    F32(Option<f32>),
    F64(Option<f64>),
    Bool(Option<bool>),
    I16s(Option<Vec<i16>>),
    Texts(Option<Vec<String>>),
}

impl ToSql for Cell {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self {
            Self::Text(v) => v.to_sql(ty, out),
            Self::Time(v) => v.to_sql(ty, out),
            Self::I64(v) => v.to_sql(ty, out),
            Self::I32(v) => v.to_sql(ty, out),
            Self::I16(v) => v.to_sql(ty, out),
            Self::F32(v) => v.to_sql(ty, out),
            Self::F64(v) => v.to_sql(ty, out),
            Self::Bool(v) => v.to_sql(ty, out),
            Self::I16s(v) => v.to_sql(ty, out),
            Self::Texts(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value by the variant's own `to_sql`.
        true
    }

    to_sql_checked!();
}

/// PostgreSQL text cannot hold NUL: a peer's agent string with one is stored with U+FFFD
/// in its place.
pub(crate) fn scrub(s: &str) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s.to_owned()
    }
}

/// JSON text with every `\u0000` escape (a NUL in a string, which `jsonb` refuses) made
/// `\ufffd`; an escaped backslash followed by `u0000` is left alone.
pub(crate) fn scrub_json(json: String) -> String {
    if !json.contains("\\u0000") {
        return json;
    }
    let mut out = String::with_capacity(json.len());
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '\\' {
            continue;
        }
        // an escape: `\uXXXX` or `\` and one character
        if chars.as_str().starts_with("u0000") {
            out.push_str("ufffd");
            chars.nth(4);
        } else if let Some(next) = chars.next() {
            out.push(next);
        }
    }
    out
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn downcast<'a, T: 'static>(array: &'a ArrayRef, column: &str) -> Result<&'a T, String> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        format!(
            "column {column}: unexpected array type {}",
            array.data_type()
        )
    })
}

fn opt<T>(array: &dyn Array, i: usize, v: impl FnOnce() -> T) -> Option<T> {
    (!array.is_null(i)).then(v)
}

/// The column's values, one cell a row.
fn cells(array: &ArrayRef, column: &str) -> Result<Vec<Cell>, String> {
    let n = array.len();
    let a = array.as_ref();
    Ok(match array.data_type() {
        DataType::Utf8 => {
            let s = downcast::<StringArray>(array, column)?;
            (0..n)
                .map(|i| Cell::Text(opt(a, i, || scrub(s.value(i)))))
                .collect()
        }
        DataType::Timestamp(..) => {
            let t = downcast::<TimestampMillisecondArray>(array, column)?;
            (0..n)
                .map(|i| {
                    Cell::Time(opt(a, i, || {
                        let ms = t.value(i).clamp(0, MAX_TIMESTAMP_MS);
                        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
                    }))
                })
                .collect()
        }
        DataType::UInt64 => {
            let v = downcast::<UInt64Array>(array, column)?;
            (0..n)
                .map(|i| Cell::I64(opt(a, i, || clamp(v.value(i)))))
                .collect()
        }
        DataType::UInt32 => {
            let v = downcast::<UInt32Array>(array, column)?;
            (0..n)
                .map(|i| Cell::I64(opt(a, i, || i64::from(v.value(i)))))
                .collect()
        }
        DataType::Int64 => {
            let v = downcast::<Int64Array>(array, column)?;
            (0..n)
                .map(|i| Cell::I64(opt(a, i, || v.value(i))))
                .collect()
        }
        DataType::UInt16 => {
            let v = downcast::<UInt16Array>(array, column)?;
            (0..n)
                .map(|i| Cell::I32(opt(a, i, || i32::from(v.value(i)))))
                .collect()
        }
        DataType::UInt8 => {
            let v = downcast::<UInt8Array>(array, column)?;
            (0..n)
                .map(|i| Cell::I16(opt(a, i, || i16::from(v.value(i)))))
                .collect()
        }
        DataType::Float32 => {
            let v = downcast::<Float32Array>(array, column)?;
            (0..n)
                .map(|i| Cell::F32(opt(a, i, || v.value(i))))
                .collect()
        }
        DataType::Float64 => {
            let v = downcast::<Float64Array>(array, column)?;
            (0..n)
                .map(|i| Cell::F64(opt(a, i, || v.value(i))))
                .collect()
        }
        DataType::Boolean => {
            let v = downcast::<BooleanArray>(array, column)?;
            (0..n)
                .map(|i| Cell::Bool(opt(a, i, || v.value(i))))
                .collect()
        }
        DataType::List(f) if f.data_type() == &DataType::UInt8 => {
            let l = downcast::<ListArray>(array, column)?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(Cell::I16s(if l.is_null(i) {
                    None
                } else {
                    let row = l.value(i);
                    let v = downcast::<UInt8Array>(&row, column)?;
                    Some(v.values().iter().map(|&x| i16::from(x)).collect())
                }));
            }
            out
        }
        DataType::List(f) if f.data_type() == &DataType::Utf8 => {
            let l = downcast::<ListArray>(array, column)?;
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(Cell::Texts(if l.is_null(i) {
                    None
                } else {
                    let row = l.value(i);
                    let v = downcast::<StringArray>(&row, column)?;
                    Some((0..v.len()).map(|j| scrub(v.value(j))).collect())
                }));
            }
            out
        }
        other => return Err(format!("column {column}: no PostgreSQL type for {other}")),
    })
}

/// Inserts the events of `kind` among `events` (others are skipped) into its table within
/// `txn`; returns the rows inserted (events whose id was already there are not).
pub(crate) async fn insert(
    txn: &tokio_postgres::Transaction<'_>,
    kind: EventKind,
    events: &[Event],
) -> Result<u64, PgError> {
    let table = kind.table();
    let batch: RecordBatch = crate::parquet_sink::encode(kind, events)
        .map_err(|source| PgError::Encode { table, source })?;
    if batch.num_rows() == 0 {
        return Ok(0);
    }
    let schema = batch.schema();
    let mut types = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, array) in schema.fields().iter().zip(batch.columns()) {
        let encode = |msg: String| PgError::Encode {
            table,
            source: arrow::error::ArrowError::SchemaError(msg),
        };
        let (ty, _) = pg_type(field.data_type())
            .ok_or_else(|| encode(format!("column {}: no PostgreSQL type", field.name())))?;
        types.push(ty);
        columns.push(cells(array, field.name()).map_err(encode)?);
    }
    // Rows the staging table gets are deleted at commit (each table is staged once a
    // transaction); the table lives as long as the connection.
    txn.batch_execute(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS stage_{table} (LIKE {table}) ON COMMIT DELETE ROWS"
    ))
    .await
    .map_err(PgError::query("creating a staging table"))?;
    let copy = txn
        .copy_in(&format!("COPY stage_{table} FROM STDIN (FORMAT binary)"))
        .await
        .map_err(PgError::query("COPY"))?;
    let writer = BinaryCopyInWriter::new(copy, &types);
    pin_mut!(writer);
    let mut row: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(columns.len());
    for i in 0..batch.num_rows() {
        row.clear();
        for column in &columns {
            row.push(&column[i]);
        }
        writer
            .as_mut()
            .write(&row)
            .await
            .map_err(PgError::query("COPY"))?;
    }
    writer.finish().await.map_err(PgError::query("COPY"))?;
    let inserted = txn
        .execute(
            &format!(
                // in key order, as every writer does, so two writers never wait on each other
                // in a cycle
                "INSERT INTO {table} SELECT * FROM stage_{table} ORDER BY event_id \
                 ON CONFLICT (event_id) DO NOTHING"
            ),
            &[],
        )
        .await
        .map_err(PgError::query("inserting rows"))?;
    Ok(inserted)
}

#[cfg(test)]
mod scrub_tests {
    use super::scrub_json;

    #[test]
    fn nul_escapes_go_and_escaped_backslashes_stay() {
        let nul = serde_json::to_string(&"a\0b\\u0000c\\\0").unwrap();
        assert_eq!(nul, r#""a\u0000b\\u0000c\\\u0000""#);
        let clean = scrub_json(nul);
        assert_eq!(clean, r#""a\ufffdb\\u0000c\\\ufffd""#);
        let back: String = serde_json::from_str(&clean).unwrap();
        assert_eq!(back, "a\u{fffd}b\\u0000c\\\u{fffd}");
        assert_eq!(scrub_json("{}".into()), "{}");
    }
}
