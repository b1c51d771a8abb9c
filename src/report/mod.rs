//! `valtrack report`: one self-contained HTML file (charts as inline SVG, no network fetch)
//! of what the Parquet tables under a data directory say: client mix and its change over
//! time, versions, fork digests, attestation subnets and custody, countries and hosting,
//! validators per node, crawl coverage, and attributions.
//!
//! The numbers are also embedded as JSON (`<script type="application/json"
//! id="valtrack-report-data">`), so they can be checked against a query over the same files.

mod data;

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

pub use data::{
    bucket_width, load, table_files, Counts, Progress, ReportData, ReportError, Series, TopNode,
    Window, DELAY_BINS, VALIDATOR_BINS,
};

/// Bars shown at most in one bar chart (the rest are summed as `other`).
const MAX_BARS: usize = 16;

const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Reads the tables under `dir` and writes the report to `out`; returns its numbers.
pub fn write(
    dir: &Path,
    window: Window,
    out: &Path,
    progress: Progress<'_>,
) -> Result<ReportData, ReportError> {
    let data = load(dir, window, progress)?;
    let html = render(&data, dir);
    std::fs::write(out, html).map_err(|source| ReportError::Write {
        path: out.to_owned(),
        source,
    })?;
    Ok(data)
}

/// Text from the network made safe for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A label for a chart: printable ASCII only, at most 40 characters (SVG text is escaped
/// again by the backend, but agent strings can be anything).
fn label(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " .-_/:+()".contains(c) {
                c
            } else {
                '?'
            }
        })
        .take(40)
        .collect();
    clean
}

/// The first `MAX_BARS - 1` counts and the rest summed as `other`.
fn capped(counts: &Counts) -> Vec<(String, u64)> {
    if counts.0.len() <= MAX_BARS {
        return counts.0.clone();
    }
    let mut v: Vec<(String, u64)> = counts.0[..MAX_BARS - 1].to_vec();
    let rest: u64 = counts.0[MAX_BARS - 1..].iter().map(|(_, n)| n).sum();
    v.push(("other".into(), rest));
    v
}

/// A horizontal bar chart, first bar on top.
fn bar_chart(title: &str, bars: &[(String, u64)], unit: &str) -> String {
    let mut svg = String::new();
    if bars.is_empty() {
        return svg;
    }
    let n = bars.len();
    let height = (80 + 26 * n as u32).max(150);
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let labels: Vec<String> = bars.iter().map(|(l, _)| label(l)).collect();
    let width_of_labels = labels.iter().map(String::len).max().unwrap_or(4) as u32 * 7 + 10;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(width_of_labels.min(300))
            .build_cartesian_2d(0u64..max + max / 10 + 1, (0usize..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n * 2 + 1)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - *i].clone(),
                _ => String::new(),
            })
            .x_desc(unit)
            .draw()?;
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let row = n - 1 - i;
            let mut bar = Rectangle::new(
                [
                    (0, SegmentValue::Exact(row)),
                    (*v, SegmentValue::Exact(row + 1)),
                ],
                COLOURS[i % COLOURS.len()].filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(target: "valtrack::report", chart = title, error = %e, "chart not drawn");
    }
    svg
}

/// A line chart of a series over time (minutes since its first bucket).
fn line_chart(title: &str, series: &Series, y_desc: &str) -> String {
    let mut svg = String::new();
    if series.starts.is_empty() || series.lines.is_empty() {
        return svg;
    }
    let n = series.starts.len();
    let minutes = |i: usize| (i as f64) * series.bucket_ms as f64 / 60_000.0;
    let max = series
        .lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (720, 320)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..minutes(n.max(2) - 1), 0f64..max * 1.1)?;
        chart
            .configure_mesh()
            .x_desc(format!(
                "minutes since {} (buckets of {} s)",
                humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_millis(series.starts[0].max(0) as u64)
                ),
                series.bucket_ms / 1000
            ))
            .y_desc(y_desc)
            .draw()?;
        for (k, (name, values)) in series.lines.iter().enumerate().take(COLOURS.len()) {
            let colour = COLOURS[k % COLOURS.len()];
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, v)| (minutes(i), *v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(label(name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
        root.present()?;
        Ok(())
    })();
    if let Err(e) = drawn {
        tracing::warn!(target: "valtrack::report", chart = title, error = %e, "chart not drawn");
    }
    svg
}

/// An HTML table of counts with shares.
fn counts_table(head: &str, counts: &Counts) -> String {
    let total = counts.total().max(1) as f64;
    let mut t = format!(
        "<table><tr><th>{}</th><th>peers</th><th>share</th></tr>",
        esc(head)
    );
    for (l, n) in &counts.0 {
        let _ = write!(
            t,
            "<tr><td>{}</td><td class=n>{n}</td><td class=n>{:.1}%</td></tr>",
            esc(l),
            100.0 * *n as f64 / total
        );
    }
    t.push_str("</table>");
    t
}

fn ts(ms: i64) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64),
    )
    .to_string()
}

/// The whole HTML page.
pub fn render(data: &ReportData, dir: &Path) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>valtrack report</title>\
         <style>body{{font-family:sans-serif;max-width:1500px;margin:2em auto;padding:0 1em;color:#222}}\
         h1{{margin-bottom:0}}.sub{{color:#666;margin-top:.3em}}\
         section{{margin:2em 0}}.row{{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}}\
         table{{border-collapse:collapse;font-size:.9em}}td,th{{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}.kpi{{display:flex;gap:2em;flex-wrap:wrap}}\
         .kpi div{{background:#f4f6f8;padding:.6em 1em;border-radius:6px}}.kpi b{{display:block;font-size:1.6em}}\
         .note{{color:#666;font-size:.9em;max-width:70em}}</style></head><body>"
    );
    let span = data.span.map_or_else(
        || "no events".to_owned(),
        |(a, b)| format!("{} to {}", ts(a), ts(b)),
    );
    let _ = write!(
        h,
        "<h1>valtrack report</h1><p class=sub>{} &middot; tables under <code>{}</code></p>",
        esc(&span),
        esc(&dir.display().to_string())
    );
    let rows: u64 = data.rows.iter().map(|(_, n)| n).sum();
    let _ = write!(
        h,
        "<div class=kpi><div><b>{}</b>nodes discovered</div><div><b>{}</b>peers handshaken</div>\
         <div><b>{}</b>estimated validators</div><div><b>{}</b>attributed attestations</div>\
         <div><b>{rows}</b>rows read</div></div>",
        data.nodes_discovered,
        data.peers_handshaken,
        data.validators_total,
        data.evidence
            .0
            .iter()
            .filter(|(e, _)| e != "none")
            .map(|(_, n)| n)
            .sum::<u64>()
    );

    // Clients
    let _ = write!(
        h,
        "<section><h2>Clients</h2><p class=note>Each peer counted once, by its latest successful \
         handshake (agent version from identify).</p><div class=row>{}{}</div><div class=row>{}</div><div class=row>{}{}</div></section>",
        bar_chart("Peers by client", &capped(&data.clients), "peers"),
        counts_table("client", &data.clients),
        line_chart(
            "Client mix over time (share of the peers handshaken in each bucket)",
            &data.clients_over_time,
            "% of peers"
        ),
        bar_chart("Versions", &capped(&data.versions), "peers"),
        counts_table("client version", &data.versions),
    );

    // Network
    let _ = write!(
        h,
        "<section><h2>Forks, subnets and custody</h2><div class=row>{}{}</div><div class=row>{}{}</div></section>",
        bar_chart("Fork digests (Status)", &capped(&data.fork_digests), "peers"),
        bar_chart(
            "Custody group count (MetaData cgc)",
            &capped(&sorted_numeric(&data.cgc)),
            "peers"
        ),
        bar_chart(
            "Attestation subnets in MetaData (attnets set)",
            &capped(&sorted_numeric(&data.attnets)),
            "peers"
        ),
        counts_table("fork digest", &data.fork_digests),
    );

    // Where
    if data.countries.0.is_empty() {
        h.push_str(
            "<section><h2>Where</h2><p class=note>No locations: run with --geoip-city and \
             --geoip-asn (MaxMind GeoLite2 databases) to place peers.</p></section>",
        );
    } else {
        let _ = write!(
            h,
            "<section><h2>Where</h2><div class=row>{}{}{}</div><div class=row>{}</div></section>",
            bar_chart("Countries", &capped(&data.countries), "peers"),
            bar_chart("Hosting providers", &data.hosting.0, "peers"),
            bar_chart("Networks (ASN)", &capped(&data.asns), "peers"),
            counts_table("country", &data.countries),
        );
    }

    // Validators
    let mut top = String::from(
        "<table><tr><th>#</th><th>peer</th><th>client</th><th>validators</th><th>method</th><th>confidence</th></tr>",
    );
    for (i, n) in data.top_nodes.iter().enumerate() {
        let _ = write!(
            top,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=n>{}</td><td>{}</td><td class=n>{:.2}</td></tr>",
            i + 1,
            esc(&n.peer_id),
            esc(&n.client),
            n.estimated_validators,
            esc(&n.method),
            n.confidence
        );
    }
    top.push_str("</table>");
    let _ = write!(
        h,
        "<section><h2>Validators per node</h2><p class=note>Latest estimate per peer. Methods: \
         <code>subnets</code> (long-lived attestation subnets beyond the node's two), \
         <code>custody</code> (Fulu custody groups), <code>combined</code>, \
         <code>attributed</code> (attestations first delivered by the peer); see the README's \
         \"What the validator numbers mean\".</p><div class=row>{}{}</div><div class=row>{}</div></section>",
        bar_chart("Nodes by estimated validators", &data.validators_per_node.0, "peers"),
        bar_chart("Estimate method", &data.estimate_methods.0, "peers"),
        top
    );

    // Coverage
    let _ = write!(
        h,
        "<section><h2>Crawl coverage</h2><div class=row>{}</div><div class=row>{}{}</div></section>",
        line_chart(
            "Crawl over time (nodes and peers so far; failures per bucket)",
            &data.coverage,
            "count"
        ),
        bar_chart("Failed handshakes by kind", &capped(&data.failures_by_kind), "handshakes"),
        counts_table("failure", &data.failures_by_kind),
    );

    // Attestations
    if data.evidence.0.is_empty() {
        h.push_str(
            "<section><h2>Attestations</h2><p class=note>No attestation rows: run with \
             --attestations to attribute attestations to the peers that publish them.</p></section>",
        );
    } else {
        let _ = write!(
            h,
            "<section><h2>Attestations</h2><div class=row>{}{}</div></section>",
            bar_chart(
                "Attestations by attribution evidence",
                &data.evidence.0,
                "attestations"
            ),
            bar_chart(
                "First-delivery delay after slot start",
                &data.delays.0,
                "attestations"
            ),
        );
    }

    // Tables
    h.push_str("<section><h2>Rows read</h2><table><tr><th>table</th><th>rows</th></tr>");
    for (t, n) in &data.rows {
        let _ = write!(h, "<tr><td>{}</td><td class=n>{n}</td></tr>", esc(t));
    }
    h.push_str("</table></section>");

    let json = serde_json::to_string(data)
        .unwrap_or_else(|_| "{}".into())
        // `<` only occurs inside JSON strings: as `\u003c` no `</script` or `<!--` can end or
        // confuse the block.
        .replace('<', "\\u003c");
    let _ = writeln!(
        h,
        "<script type=\"application/json\" id=\"valtrack-report-data\">{json}</script></body></html>"
    );
    h
}

/// Counts whose labels are numbers, in numeric order (others after).
fn sorted_numeric(c: &Counts) -> Counts {
    let mut v = c.0.clone();
    v.sort_by_key(|(l, _)| (l.parse::<u64>().unwrap_or(u64::MAX), l.clone()));
    Counts(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_labels_cannot_break_out_of_the_page() {
        let counts = Counts(vec![("<script>alert(1)</script>&".into(), 3)]);
        let table = counts_table("client", &counts);
        assert!(!table.contains("<script>"), "{table}");
        let svg = bar_chart("t", &counts.0, "peers");
        assert!(!svg.contains("<script>"), "{svg}");
        let data = ReportData {
            clients: counts,
            ..ReportData::default()
        };
        let page = render(&data, Path::new("d"));
        assert_eq!(page.matches("<script").count(), 1, "only the JSON block");
        assert!(!page.contains("</script>&"), "JSON escapes <");
        let start = page.find("id=\"valtrack-report-data\">").unwrap() + 26;
        let json = &page[start..page[start..].find("</script>").unwrap() + start];
        let back: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back["clients"][0][0], "<script>alert(1)</script>&");
    }

    #[test]
    fn bars_beyond_the_cap_are_summed_as_other() {
        let counts = Counts((0..20).map(|i| (format!("c{i}"), 1)).collect());
        let bars = capped(&counts);
        assert_eq!(bars.len(), MAX_BARS);
        assert_eq!(bars.last().unwrap(), &("other".to_owned(), 5));
    }

    #[test]
    fn buckets_are_round_and_at_most_48() {
        assert_eq!(bucket_width(120_000), 60_000);
        assert_eq!(bucket_width(3_600_000), 300_000);
        assert!(bucket_width(90 * 86_400_000) >= 86_400_000);
    }
}
