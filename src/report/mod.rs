//! `vcurate report`: one self-contained HTML page per snapshot (inline SVG plots, no external
//! assets, a few lines of script that only mark the page as rendered), for people to read before
//! training. Aggregations run as Polars jobs over the snapshot's tables; a plot whose input is
//! missing (an audit that has not run, no rendered examples) says so instead of drawing nothing.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use crate::snapshot::freeze::{self, SnapshotManifest};
use crate::store::read_parquet;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Snapshot(#[from] freeze::SnapshotError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Polars(#[from] PolarsError),
    #[error("could not write {path}: {source}")]
    Write {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// What `vcurate report --json` prints.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ReportOutput {
    pub snapshot: String,
    /// The HTML page written.
    pub path: std::path::PathBuf,
}

/// The report stage: renders snapshot `id` (or unique prefix) of `dir` and writes the page to
/// `out`.
pub fn write(dir: &Path, id: &str, out: &Path) -> Result<(), ReportError> {
    let html = render(dir, id)?;
    crate::core::fs::write_atomic(out, html.as_bytes()).map_err(|source| ReportError::Write {
        path: out.to_path_buf(),
        source,
    })
}

/// A plot: a title, labelled bars, and a note when there is nothing to draw.
pub struct Plot {
    pub id: &'static str,
    pub title: String,
    pub bars: Vec<(String, f64)>,
    pub note: Option<String>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart as inline SVG.
pub fn bar_chart(plot: &Plot) -> String {
    let mut out = format!(
        "<figure class=\"plot\" data-plot=\"{}\"><figcaption>{}</figcaption>",
        plot.id,
        esc(&plot.title)
    );
    if plot.bars.is_empty() {
        let _ = write!(
            out,
            "<p class=\"empty\">{}</p></figure>",
            esc(plot.note.as_deref().unwrap_or("nothing to show"))
        );
        return out;
    }
    let (row, label_w, bar_w) = (22.0, 260.0, 420.0);
    let max = plot
        .bars
        .iter()
        .map(|b| b.1)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let height = row * plot.bars.len() as f64 + 10.0;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        label_w + bar_w + 80.0
    );
    for (i, (label, value)) in plot.bars.iter().enumerate() {
        let y = i as f64 * row + 5.0;
        let w = (value / max * bar_w).max(1.0);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text><rect x=\"{}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"#4a78b5\"><title>{}: {value}</title></rect><text x=\"{}\" y=\"{}\" font-size=\"12\">{value}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            label_w,
            row - 6.0,
            esc(label),
            label_w + w + 4.0,
            y + 14.0
        );
    }
    if let Some(n) = &plot.note {
        let _ = write!(out, "</svg><p class=\"note\">{}</p></figure>", esc(n));
    } else {
        out.push_str("</svg></figure>");
    }
    out
}

/// One line of a [`line_chart`]: a label, a colour and `(x, y)` points in x order.
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// A standalone SVG line chart (a file of its own: the training loss curve), with axes, min/max
/// tick labels and a legend. Non-finite points are skipped.
pub fn line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (w, h, left, right, top, bottom) = (640.0, 360.0, 70.0, 20.0, 40.0, 50.0);
    let finite = |p: &&(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| s.points.iter().filter(finite).copied())
        .collect();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        w / 2.0,
        esc(title)
    );
    if all.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>\n</svg>",
            w / 2.0,
            h / 2.0
        );
        return out;
    }
    let bounds = |f: fn(&(f64, f64)) -> f64| {
        let lo = all.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = all.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        if hi > lo {
            (lo, hi)
        } else {
            (lo - 0.5, hi + 0.5)
        }
    };
    let ((x0, x1), (y0, y1)) = (bounds(|p| p.0), bounds(|p| p.1));
    let (pw, ph) = (w - left - right, h - top - bottom);
    let px = |x: f64| left + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| top + ph - (y - y0) / (y1 - y0) * ph;
    let _ = writeln!(
        out,
        "<path d=\"M{left} {top} V{} H{}\" stroke=\"#333\" fill=\"none\"/>",
        top + ph,
        left + pw
    );
    for (v, y) in [(y0, top + ph), (y1, top)] {
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.4}</text>",
            left - 6.0,
            y + 4.0
        );
    }
    for (v, x) in [(x0, left), (x1, left + pw)] {
        let _ = writeln!(
            out,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{v}</text>",
            top + ph + 16.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text x=\"16\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>",
        left + pw / 2.0,
        h - 12.0,
        esc(x_label),
        top + ph / 2.0,
        top + ph / 2.0,
        esc(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(finite)
            .map(|&(x, y)| (px(x), py(y)))
            .collect();
        if let [(cx, cy)] = pts.as_slice() {
            let _ = writeln!(
                out,
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"3\" fill=\"{}\"/>",
                s.color
            );
        } else if !pts.is_empty() {
            let joined: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
                s.color,
                joined.join(" ")
            );
        }
        let ly = top + 14.0 * i as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"3\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            left + pw - 140.0,
            ly,
            s.color,
            left + pw - 124.0,
            ly + 5.0,
            esc(&s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Counts of a string column's values (or of comma-separated parts), largest first.
fn value_counts(
    df: &DataFrame,
    column: &str,
    split_commas: bool,
) -> Result<Vec<(String, f64)>, ReportError> {
    // A list column (the contamination audit's `tasks`) counts each of its values.
    if let DataType::List(_) = df.column(column)?.dtype() {
        let values: Vec<String> = crate::store::columns::read_string_lists(df, column)?
            .into_iter()
            .flatten()
            .filter(|v| !v.is_empty())
            .collect();
        return count_values(values);
    }
    let s = df.column(column)?.cast(&DataType::String)?;
    let values: Vec<String> = s
        .str()?
        .iter()
        .flatten()
        .flat_map(|v| {
            if split_commas {
                v.split(',').map(str::to_string).collect::<Vec<_>>()
            } else {
                vec![v.to_string()]
            }
        })
        .filter(|v| !v.is_empty())
        .collect();
    count_values(values)
}

/// Each distinct value with its count, most frequent first.
fn count_values(values: Vec<String>) -> Result<Vec<(String, f64)>, ReportError> {
    let counted = df!("v" => values)?
        .lazy()
        .group_by([col("v")])
        .agg([len().alias("n")])
        .sort_by_exprs(
            [col("n"), col("v")],
            SortMultipleOptions::default().with_order_descending_multi([true, false]),
        )
        .collect()?;
    let v = counted.column("v")?.str()?.clone();
    let n = counted.column("n")?.cast(&DataType::Float64)?;
    let n = n.f64()?;
    Ok(v.iter()
        .zip(n.iter())
        .map(|(a, b)| (a.unwrap_or_default().to_string(), b.unwrap_or_default()))
        .collect())
}

/// A histogram of a numeric column in power-of-two bins (0, 1, 2-3, 4-7, ...).
fn histogram(df: &DataFrame, column: &str) -> Result<Vec<(String, f64)>, ReportError> {
    let s = df.column(column)?.cast(&DataType::UInt64)?;
    let mut bins: std::collections::BTreeMap<u32, f64> = Default::default();
    for v in s.u64()?.iter().flatten() {
        let bin = if v == 0 { 0 } else { 64 - v.leading_zeros() };
        *bins.entry(bin).or_insert(0.0) += 1.0;
    }
    Ok(bins
        .into_iter()
        .map(|(b, n)| {
            let label = match b {
                0 => "0".to_string(),
                1 => "1".to_string(),
                b => format!("{}-{}", 1u64 << (b - 1), (1u64 << b) - 1),
            };
            (label, n)
        })
        .collect())
}

fn table_if(path: &Path) -> Result<Option<DataFrame>, ReportError> {
    Ok(if path.exists() {
        Some(read_parquet(path)?)
    } else {
        None
    })
}

/// The plots of a snapshot.
pub fn plots(dir: &Path, m: &SnapshotManifest) -> Result<Vec<Plot>, ReportError> {
    let snap = dir.join(&m.id);
    let docs = read_parquet(&snap.join("documents.parquet"))?;
    let excluded = read_parquet(&snap.join("excluded.parquet"))?;
    let attr = |name: &str| table_if(&snap.join("attributes").join(format!("{name}.parquet")));
    let missing = |what: &str| Plot {
        id: "",
        title: String::new(),
        bars: Vec::new(),
        note: Some(format!("{what} has not run for this snapshot")),
    };
    let mut out = Vec::new();

    let mut p = match attr("license")? {
        Some(df) => Plot {
            id: "",
            title: String::new(),
            bars: value_counts(&df, "spdx", false)?,
            note: None,
        },
        None => missing("the license audit"),
    };
    p.id = "license-mix";
    p.title = "License mix (documents per concluded license)".into();
    out.push(p);

    let included = docs.clone().lazy().filter(col("included")).collect()?;
    let mut p = match attr("density")? {
        Some(df) => Plot {
            id: "",
            title: String::new(),
            bars: histogram(&df, "luau_code_lines")?,
            note: None,
        },
        None => missing("the density audit"),
    };
    p.id = "code-lines";
    p.title = "Luau code lines per document (parsed)".into();
    out.push(p);

    let examples = table_if(&snap.join("examples.parquet"))?;
    out.push(
        match examples
            .as_ref()
            .filter(|e| e.get_column_names().iter().any(|c| c.as_str() == "tokens"))
        {
            Some(ex) => Plot {
                id: "token-lengths",
                title: "Tokens per training example".into(),
                bars: histogram(ex, "tokens")?,
                note: None,
            },
            None => Plot {
                id: "token-lengths",
                title: "Tokens per training example".into(),
                bars: Vec::new(),
                note: Some("no rendered examples in this snapshot".into()),
            },
        },
    );

    for (name, title) in [
        (
            "exact-dedup",
            "Exact-duplicate cluster sizes (clusters per size)",
        ),
        (
            "near-dedup",
            "Near-duplicate cluster sizes (clusters per size)",
        ),
    ] {
        let mut p = match attr(name)? {
            Some(df) => {
                let sizes = df
                    .lazy()
                    .filter(col("cluster").is_not_null())
                    .group_by([col("cluster")])
                    .agg([len().alias("size")])
                    .collect()?;
                let mut bars = value_counts(&sizes, "size", false)?;
                bars.sort_by(|a, b| {
                    a.0.parse::<u64>()
                        .unwrap_or(0)
                        .cmp(&b.0.parse::<u64>().unwrap_or(0))
                });
                let note = bars.is_empty().then(|| "no duplicates found".to_string());
                Plot {
                    id: "",
                    title: String::new(),
                    bars,
                    note,
                }
            }
            None => missing(name),
        };
        p.id = if name == "exact-dedup" {
            "exact-clusters"
        } else {
            "near-clusters"
        };
        p.title = title.into();
        out.push(p);
    }

    let mut p = match attr("contamination")? {
        Some(df) => {
            let bars = value_counts(&df, "tasks", true)?;
            let note = bars
                .is_empty()
                .then(|| "no document shares text with a registered eval task".to_string());
            Plot {
                id: "",
                title: String::new(),
                bars,
                note,
            }
        }
        None => missing("the contamination audit"),
    };
    p.id = "contamination";
    p.title = "Contamination hits per eval task (documents)".into();
    out.push(p);

    let by = included
        .lazy()
        .with_column(
            concat_str([col("source_id"), col("split")], " / ", true).alias("source_split"),
        )
        .collect()?;
    out.push(Plot {
        id: "splits",
        title: "Included documents per source and split".into(),
        bars: value_counts(&by, "source_split", false)?,
        note: None,
    });

    let reasons = excluded
        .lazy()
        .with_column(concat_str([col("step"), col("reason")], ": ", true).alias("why"))
        .collect()?;
    let bars = value_counts(&reasons, "why", false)?;
    let note = bars.is_empty().then(|| "nothing was excluded".to_string());
    out.push(Plot {
        id: "exclusions",
        title: "Exclusion reasons (documents)".into(),
        bars,
        note,
    });
    Ok(out)
}

/// The secrets and personal data section: what the `secrets` audit found, by kind, by rule and
/// by source, as counts (the page never shows a value, not even a prefix).
fn secrets_section(snap: &Path) -> Result<String, ReportError> {
    let mut html = String::from("<h2 id=\"secrets\">Secrets and personal data</h2>");
    let Some(df) = table_if(&snap.join("attributes").join("secrets.parquet"))? else {
        html.push_str("<p class=\"note\">the secrets audit has not run for this snapshot</p>");
        return Ok(html);
    };
    let by_source = crate::audit::jobs::secrets::per_source(&df)?;
    html.push_str("<p>Credentials drop their document or are redacted, e-mail and public IP addresses are redacted, as the workspace's <code>[audit.secrets]</code> says; every value is replaced by a placeholder in the frozen documents and never reaches an example. Counts only.</p>");
    html.push_str("<table data-table=\"secrets-by-source\"><tr><th>source</th><th>documents</th><th>with findings</th><th>dropped</th><th>redacted</th><th>secrets</th><th>e-mails</th><th>IP addresses</th></tr>");
    let mut totals = [0i64; 7];
    for s in &by_source {
        let row = [
            s.documents,
            s.with_findings,
            s.dropped,
            s.redacted,
            s.secrets,
            s.emails,
            s.ip_addresses,
        ];
        let _ = write!(html, "<tr><td>{}</td>", esc(&s.source_id));
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
            let _ = write!(html, "<td>{v}</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("<tr><th>all</th>");
    for t in totals {
        let _ = write!(html, "<th>{t}</th>");
    }
    html.push_str("</tr></table>");
    let rules: Vec<String> = crate::store::columns::read_struct_lists(&df, "findings", |f, i| {
        Ok(crate::store::columns::str_at(f, "rule", i)?.unwrap_or_default())
    })?
    .into_iter()
    .flatten()
    .collect();
    let bars = count_values(rules)?;
    let note = bars
        .is_empty()
        .then(|| "no credential or personal data found".to_string());
    html.push_str(&bar_chart(&Plot {
        id: "secrets-by-rule",
        title: "Findings by rule".into(),
        bars,
        note,
    }));
    Ok(html)
}

/// The HTML page for a snapshot.
pub fn render(dir: &Path, id: &str) -> Result<String, ReportError> {
    let id = freeze::resolve(dir, id)?;
    let m = freeze::load(dir, &id)?;
    let plots = plots(dir, &m)?;
    let c = &m.counts;
    let mut html =
        String::from("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(html, "<title>vcurate snapshot {}</title>", esc(&m.id));
    html.push_str("<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:960px}figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.4rem}table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}.empty,.note{color:#666}</style></head><body>");
    let _ = write!(
        html,
        "<h1>Snapshot {}</h1><p>vcurate {} &middot; created {}</p>",
        esc(&m.id),
        esc(&m.tool_version),
        esc(&m.created)
    );
    let _ = write!(
        html,
        "<table><tr><th>documents</th><th>included</th><th>excluded</th><th>train</th><th>valid</th><th>test</th><th>examples</th></tr><tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        c.documents, c.included, c.excluded, c.train, c.valid, c.test, c.examples
    );
    html.push_str("<h2>Sources</h2><table><tr><th>source</th><th>kind</th><th>url</th><th>commit</th><th>documents</th></tr>");
    for s in &m.sources {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.id),
            esc(&s.kind),
            esc(&s.url),
            esc(s.commit.as_deref().unwrap_or("-")),
            s.documents
        );
    }
    html.push_str("</table>");
    if !m.flags.is_empty() {
        let _ = write!(
            html,
            "<p><strong>Overrides:</strong> {}</p>",
            esc(&m.flags.join(", "))
        );
    }
    html.push_str(&secrets_section(&dir.join(&m.id))?);
    html.push_str("<h2>Plots</h2>");
    for p in &plots {
        html.push_str(&bar_chart(p));
    }
    html.push_str("<script>document.body.dataset.rendered = String(document.querySelectorAll('figure.plot').length);</script></body></html>\n");
    Ok(html)
}
