//! A small SVG plot of training loss and dev nDCG@10 against steps.

use crate::train::LogEntry;

fn polyline(points: &[(f64, f64)], x0: f64, y0: f64, w: f64, h: f64, color: &str) -> String {
    if points.is_empty() {
        return String::new();
    }
    let (xmin, xmax) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (ymin, ymax) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let sx = |x: f64| {
        x0 + if xmax > xmin {
            (x - xmin) / (xmax - xmin) * w
        } else {
            w / 2.0
        }
    };
    let sy = |y: f64| {
        y0 + h
            - if ymax > ymin {
                (y - ymin) / (ymax - ymin) * h
            } else {
                h / 2.0
            }
    };
    let pts: Vec<String> = points
        .iter()
        .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
        .collect();
    format!(
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{ymax:.4}</text>\n\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">{ymin:.4}</text>\n\
         <text x=\"{:.0}\" y=\"{:.0}\" font-size=\"11\">step {xmax:.0}</text>\n",
        pts.join(" "),
        x0 + 4.0,
        y0 + 12.0,
        x0 + 4.0,
        y0 + h - 4.0,
        x0 + w - 60.0,
        y0 + h + 14.0
    )
}

/// Two panels: mean training loss (top) and dev nDCG@10, alone and fused (bottom).
pub fn svg(history: &[LogEntry]) -> String {
    let loss: Vec<(f64, f64)> = history.iter().map(|e| (e.step as f64, e.loss)).collect();
    let dev: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|e| Some((e.step as f64, e.dev_ndcg10?)))
        .collect();
    let fused: Vec<(f64, f64)> = history
        .iter()
        .filter_map(|e| Some((e.step as f64, e.dev_ndcg10_fused?)))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"480\">\n\
         <rect width=\"640\" height=\"480\" fill=\"white\"/>\n\
         <text x=\"40\" y=\"20\" font-size=\"14\">training loss</text>\n\
         <rect x=\"40\" y=\"30\" width=\"560\" height=\"170\" fill=\"none\" stroke=\"#ccc\"/>\n{}\
         <text x=\"40\" y=\"250\" font-size=\"14\">dev nDCG@10: student alone (blue), fused with BM25 (green)</text>\n\
         <rect x=\"40\" y=\"260\" width=\"560\" height=\"170\" fill=\"none\" stroke=\"#ccc\"/>\n{}{}</svg>\n",
        polyline(&loss, 40.0, 30.0, 560.0, 170.0, "#c0392b"),
        polyline(&dev, 40.0, 260.0, 560.0, 170.0, "#2c7fb8"),
        polyline(&fused, 40.0, 260.0, 560.0, 170.0, "#31a354"),
    )
}
