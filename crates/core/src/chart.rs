//! Line charts as inline SVG, for the pages and reports promptops writes: no script,
//! no stylesheet needed (colours are SVG attributes, so a strict Content-Security-Policy
//! allows them), escaped text.

use crate::html::escape as esc;
use std::fmt::Write as _;

/// One line of a chart: a name for the legend and its points (time, value), in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub points: Vec<(String, f64)>,
}

/// The colour of line `i` (legends use the same).
pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// Colours that stay apart for the colour-blind (Okabe–Ito).
const COLOURS: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000",
];

const W: f64 = 320.0;
const H: f64 = 140.0;
const PAD_L: f64 = 44.0;
const PAD_B: f64 = 18.0;

/// A time for the axis: `2026-12-01 14:00`, or the date alone at midnight.
fn axis_time(at: &str) -> String {
    let short = at.get(..16).unwrap_or(at).replace('T', " ");
    match short.strip_suffix(" 00:00") {
        Some(date) => date.to_owned(),
        None => short,
    }
}

/// A `<figure>` with one SVG line chart of `lines` over their common time axis.
pub fn line_chart(title: &str, unit: &str, lines: &[Line]) -> String {
    let mut out = String::with_capacity(2048);
    let mut times: Vec<&str> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|(at, _)| at.as_str()))
        .collect();
    times.sort_unstable();
    times.dedup();
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top } else { 1.0 };
    let x = |i: usize| {
        if times.len() <= 1 {
            PAD_L + (W - PAD_L) / 2.0
        } else {
            PAD_L + (W - PAD_L - 6.0) * i as f64 / (times.len() - 1) as f64
        }
    };
    let y = |v: f64| 6.0 + (H - PAD_B - 6.0) * (1.0 - v / top);
    let _ = write!(
        out,
        "<figure><figcaption>{t}</figcaption><svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t} per step, by version\">\
         <line x1=\"{PAD_L}\" y1=\"{b}\" x2=\"{W}\" y2=\"{b}\" stroke=\"#d0d7de\"/>\
         <text x=\"2\" y=\"12\">{top}{u}</text><text x=\"2\" y=\"{b}\">0</text>",
        t = esc(title),
        b = H - PAD_B,
        top = short(top),
        u = esc(unit),
    );
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let _ = write!(
            out,
            "<text x=\"{PAD_L}\" y=\"{t}\">{}</text><text x=\"{}\" y=\"{t}\" text-anchor=\"end\">{}</text>",
            esc(&axis_time(first)),
            W - 2.0,
            esc(&axis_time(last)),
            t = H - 3.0,
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let colour = colour(i);
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|(at, v)| {
                let at = times.iter().position(|t| *t == at.as_str())?;
                Some((x(at), y(*v)))
            })
            .collect();
        if points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                path.join(" ")
            );
        }
        for (px, py) in &points {
            let _ = write!(
                out,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.5\" fill=\"{colour}\"/>"
            );
        }
    }
    out.push_str("</svg></figure>");
    out
}

/// A compact axis number: 1234 → 1.2k, 0.0102 → 0.010.
pub fn short(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 1_000.0 {
        format!("{:.1}k", v / 1_000.0)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        // Two significant digits: 0.0102 → 0.010.
        let digits = (-v.log10().floor()) as usize + 1;
        format!("{v:.digits$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_each_line_and_escapes_its_text() {
        let lines = vec![
            Line {
                name: "a".into(),
                points: vec![
                    ("2026-12-01T00:00".into(), 1.0),
                    ("2026-12-02T00:00".into(), 3.0),
                ],
            },
            Line {
                name: "b".into(),
                points: vec![("2026-12-02T00:00".into(), 2.0)],
            },
        ];
        let svg = line_chart("Calls <all>", "", &lines);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("Calls &lt;all&gt;"));
        assert_eq!(short(1234.0), "1.2k");
        assert_eq!(short(0.0102), "0.010");
    }
}
