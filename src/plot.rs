//! SVG charts, written by hand (no plotting dependency): horizontal bar charts for the HTML
//! report and a standalone line chart for the training loss curve. A shared layer: it knows
//! nothing of snapshots or training.

use std::fmt::Write as _;

/// A plot: a title, labelled bars, and a note when there is nothing to draw.
pub struct Plot {
    pub id: &'static str,
    pub title: String,
    pub bars: Vec<(String, f64)>,
    pub note: Option<String>,
}

/// `s` escaped for HTML/SVG text and attributes.
pub fn esc(s: &str) -> String {
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
