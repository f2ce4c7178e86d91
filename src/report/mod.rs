//! `vcurate report`: one self-contained HTML page per snapshot (inline SVG plots, no external
//! assets, a few lines of script that only mark the page as rendered), for people to read before
//! training. Aggregations run as Polars jobs over the snapshot's tables; a plot whose input is
//! missing (an audit that has not run, no rendered examples) says so instead of drawing nothing.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use crate::plot::{bar_chart, esc, Plot};
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
