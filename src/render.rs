//! Drawing charts into RGBA pixels with plotters' bitmap backend.
//!
//! **No text is drawn here.** In wasm, plotters measures and draws text through the
//! DOM (`window().document()`), which does not exist in the Web Worker that hosts the
//! engine: it would panic. Instead this module lays out labels (text, position,
//! alignment) and returns them; the component draws them with `fillText`, crisp at any
//! device pixel ratio, and never as HTML.

use plotters::backend::BitMapBackend;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::heatmap::{Heatmap, Scale};
use crate::tz::Zone;

/// Colours and sizes of a rendering. Sizes are CSS pixels; the bitmap is `dpr` times larger.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderOptions {
    /// Width in CSS pixels.
    pub width: u32,
    /// Height in CSS pixels.
    pub height: u32,
    /// Device pixel ratio.
    pub dpr: f64,
    /// Background colour, `#rrggbb`.
    pub background: String,
    /// Axis and tick colour, `#rrggbb`.
    pub foreground: String,
    /// Heatmap palette: colour stops from fewest to most events, `#rrggbb` each.
    pub palette: Vec<String>,
    /// Offset of the time axis labels from UTC, in minutes (when `time_zone` is not given).
    pub tz_offset_minutes: i32,
    /// IANA zone of the time axis labels (`America/New_York`, or `UTC`): right on both
    /// sides of a daylight-saving change, which a fixed offset is not.
    pub time_zone: Option<String>,
    /// Unit suffix of values (`ms` formats as ms/s); default: guessed from the column name.
    pub unit: Option<String>,
    /// Line chart series colours, `#rrggbb` each, used in turn.
    pub lines: Vec<String>,
    /// Grid line colour of line charts, `#rrggbb`.
    pub grid: String,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            width: 800,
            height: 320,
            dpr: 1.0,
            background: "#ffffff".into(),
            foreground: "#57606a".into(),
            palette: ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b", "#e6550d"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            tz_offset_minutes: 0,
            time_zone: None,
            unit: None,
            lines: [
                "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
                "#bab0ac",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            grid: "#eaeef2".into(),
        }
    }
}

/// A text label for the host to draw.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Label {
    /// The text.
    pub text: String,
    /// Anchor x, CSS pixels.
    pub x: f64,
    /// Anchor y, CSS pixels.
    pub y: f64,
    /// `left`, `center` or `right` (as canvas `textAlign`).
    pub align: &'static str,
    /// `top`, `middle` or `bottom` (as canvas `textBaseline`).
    pub baseline: &'static str,
}

/// A rectangle in CSS pixels.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Rect {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// A rendered chart.
#[derive(Debug, Clone, Serialize)]
pub struct Rendered {
    /// Bitmap width in device pixels.
    pub width: u32,
    /// Bitmap height in device pixels.
    pub height: u32,
    /// RGBA pixels, row-major.
    #[serde(skip)]
    pub rgba: Vec<u8>,
    /// Labels to draw on top, in CSS pixels.
    pub labels: Vec<Label>,
    /// The plot area (cells) in CSS pixels, to map pointer positions to buckets.
    pub plot: Rect,
}

fn parse_hex(s: &str) -> Result<RGBColor> {
    let h = s.trim().trim_start_matches('#');
    let bad = || Error::Spec(format!("colour \"{s}\" is not #rrggbb"));
    if h.len() != 6 || !h.is_ascii() {
        return Err(bad());
    }
    let p = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).map_err(|_| bad());
    Ok(RGBColor(p(0)?, p(2)?, p(4)?))
}

fn lerp(stops: &[RGBColor], f: f64) -> RGBColor {
    let f = f.clamp(0.0, 1.0);
    if stops.len() < 2 {
        return stops.first().copied().unwrap_or(BLACK);
    }
    let x = f * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let t = x - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let m = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * t).round() as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// Formats a value for an axis: durations in ms/s when the unit is `ms`, else compact.
pub fn format_value(v: f64, unit: Option<&str>) -> String {
    fn trim(s: String) -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    }
    let compact = |v: f64| -> String {
        let a = v.abs();
        if a >= 1e9 {
            format!("{}G", trim(format!("{:.1}", v / 1e9)))
        } else if a >= 1e6 {
            format!("{}M", trim(format!("{:.1}", v / 1e6)))
        } else if a >= 1e3 {
            format!("{}k", trim(format!("{:.1}", v / 1e3)))
        } else if a >= 1.0 || a == 0.0 {
            trim(format!("{v:.1}"))
        } else {
            trim(format!("{v:.3}"))
        }
    };
    match unit {
        Some("ms") if v.abs() >= 1000.0 => format!("{}s", trim(format!("{:.1}", v / 1000.0))),
        Some("ms") => format!("{}ms", compact(v)),
        Some(u) if !u.is_empty() => format!("{}{u}", compact(v)),
        _ => compact(v),
    }
}

/// Civil date from days since the epoch (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

impl RenderOptions {
    /// The labels' zone: `time_zone` if it names one, else the fixed offset.
    pub fn zone(&self) -> Result<Zone> {
        match &self.time_zone {
            Some(z) => Zone::parse(z),
            None => Ok(Zone::Fixed(self.tz_offset_minutes as i64 * 60)),
        }
    }
}

/// Formats unix seconds for a time axis whose ticks are `step` seconds apart.
pub fn format_time(t: f64, step: f64, zone: &Zone) -> String {
    let t = if t.is_finite() { t.clamp(-1e15, 1e15) } else { 0.0 };
    let s = t.floor() as i64 + zone.offset(t.floor() as i64);
    let (days, secs) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
    if step >= 86_400.0 {
        format!("{y:04}-{m:02}-{d:02}")
    } else if step < 60.0 {
        format!("{hh:02}:{mm:02}:{ss:02}")
    } else if secs == 0 {
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!("{} {d}", MONTHS[(m as usize).clamp(1, 12) - 1])
    } else {
        format!("{hh:02}:{mm:02}")
    }
}

const TIME_STEPS: [f64; 20] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 21600.0,
    43200.0, 86400.0, 172_800.0, 604_800.0,
];

/// Tick positions for a time axis from `t0` to `t1` with at most `max_ticks` ticks, on
/// round local times of `zone` (a day step ticks at each local midnight, 23 or 25 hours
/// apart across a daylight-saving change).
pub fn time_ticks(t0: f64, t1: f64, max_ticks: usize, zone: &Zone) -> (Vec<f64>, f64) {
    let span = (t1 - t0).max(1.0);
    let step = TIME_STEPS.iter().copied().find(|s| span / s <= max_ticks.max(1) as f64).unwrap_or(span);
    let mut ticks = Vec::new();
    if !(t0.is_finite() && t1.is_finite() && t0.abs() < 1e15 && t1.abs() < 1e15) {
        return (ticks, step);
    }
    if step < 1.0 || step.fract() != 0.0 {
        let first = (t0 / step).ceil() * step;
        let mut t = first;
        while t <= t1 && ticks.len() < 1000 {
            ticks.push(t);
            t += step;
        }
        return (ticks, step);
    }
    let st = step as i64;
    let start = t0.ceil() as i64;
    let mut local = (start + zone.offset(start)).div_euclid(st) * st;
    while ticks.len() < 1000 {
        if let Some(t) = zone.to_utc(local) {
            if t as f64 > t1 {
                break;
            }
            if t as f64 >= t0 && ticks.last().is_none_or(|l: &f64| (t as f64) > *l) {
                ticks.push(t as f64);
            }
        }
        local += st;
    }
    (ticks, step)
}

/// Tick values for a value axis.
pub fn value_ticks(lo: f64, hi: f64, scale: Scale, max_ticks: usize) -> Vec<f64> {
    let max_ticks = max_ticks.max(2);
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![];
    }
    match scale {
        Scale::Log if lo > 0.0 => {
            for mults in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0][..], &[1.0][..]] {
                let mut out = Vec::new();
                let mut p = 10f64.powi(lo.log10().floor() as i32);
                while p <= hi && out.len() < 200 {
                    for m in mults {
                        let v = p * m;
                        if v >= lo * 0.9999 && v <= hi * 1.0001 {
                            out.push(v);
                        }
                    }
                    p *= 10.0;
                }
                if out.len() <= max_ticks {
                    return out;
                }
            }
            // Very wide ranges: every k-th power of ten.
            let (a, b) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
            let k = ((b - a) as usize / max_ticks + 1) as i32;
            (a..=b).step_by(k as usize).map(|e| 10f64.powi(e)).collect()
        }
        _ => {
            let raw = (hi - lo) / max_ticks as f64;
            let mag = 10f64.powf(raw.log10().floor());
            let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(raw);
            let mut v = (lo / step).ceil() * step;
            let mut out = Vec::new();
            while v <= hi + step * 1e-9 && out.len() < 200 {
                out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
                v += step;
            }
            out
        }
    }
}

fn plot_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::State(format!("drawing failed: {e:?}"))
}

/// Renders a heatmap: cells coloured by count (log of count), axes, ticks and a colour legend.
pub fn render_heatmap(h: &Heatmap, opts: &RenderOptions) -> Result<Rendered> {
    let dpr = if opts.dpr.is_finite() { opts.dpr.clamp(0.5, 4.0) } else { 1.0 };
    let (cw, ch) = (opts.width.clamp(120, 4000) as f64, opts.height.clamp(80, 3000) as f64);
    let (w, hgt) = ((cw * dpr).round() as u32, (ch * dpr).round() as u32);
    let bg = parse_hex(&opts.background)?;
    let fg = parse_hex(&opts.foreground)?;
    let stops: Vec<RGBColor> = opts.palette.iter().map(|s| parse_hex(s)).collect::<Result<_>>()?;
    if stops.is_empty() {
        return Err(Error::Spec("palette needs at least one colour".into()));
    }
    let unit = opts.unit.clone().or_else(|| h.column.ends_with("_ms").then(|| "ms".to_string()));
    let has_low = h.low.iter().any(|c| *c > 0);
    let low_h = if has_low { 8.0 } else { 0.0 };
    let plot = Rect { x: 60.0, y: 8.0, w: (cw - 60.0 - 72.0).max(10.0), h: (ch - 8.0 - 26.0 - low_h).max(10.0) };
    let (tb, vb) = (h.time_buckets(), h.value_buckets());
    let px = |x: f64| (x * dpr).round() as i32;

    let mut rgb = vec![0u8; (w * hgt * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, hgt)).into_drawing_area();
        root.fill(&bg).map_err(plot_err)?;
        let max = h.max_count.max(1) as f64;
        let shade = |c: u32| lerp(&stops, ((1.0 + c as f64).ln() / (1.0 + max).ln()).max(0.0));
        for t in 0..tb {
            let x0 = px(plot.x + plot.w * t as f64 / tb as f64);
            let x1 = px(plot.x + plot.w * (t + 1) as f64 / tb as f64);
            for v in 0..vb {
                let c = h.counts.get(t * vb + v).copied().unwrap_or(0);
                if c == 0 {
                    continue;
                }
                let y0 = px(plot.y + plot.h - plot.h * (v + 1) as f64 / vb as f64);
                let y1 = px(plot.y + plot.h - plot.h * v as f64 / vb as f64);
                root.draw(&Rectangle::new([(x0, y0), (x1.max(x0 + 1), y1.max(y0 + 1))], shade(c).filled()))
                    .map_err(plot_err)?;
            }
            if has_low {
                let c = h.low.get(t).copied().unwrap_or(0);
                if c > 0 {
                    let y0 = px(plot.y + plot.h + 2.0);
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x1.max(x0 + 1), px(plot.y + plot.h + low_h))],
                        shade(c).filled(),
                    ))
                    .map_err(plot_err)?;
                }
            }
        }
        // Axes.
        let axis = ShapeStyle { color: fg.to_rgba(), filled: false, stroke_width: dpr.round().max(1.0) as u32 };
        let bottom = plot.y + plot.h + low_h;
        root.draw(&PathElement::new(vec![(px(plot.x), px(plot.y)), (px(plot.x), px(bottom))], axis))
            .map_err(plot_err)?;
        root.draw(&PathElement::new(vec![(px(plot.x), px(bottom)), (px(plot.x + plot.w), px(bottom))], axis))
            .map_err(plot_err)?;
        // Legend: a vertical gradient from fewest (bottom) to most (top).
        let lx = plot.x + plot.w + 14.0;
        let steps = 64;
        for k in 0..steps {
            let f0 = k as f64 / steps as f64;
            let y1 = px(plot.y + plot.h * (1.0 - f0));
            let y0 = px(plot.y + plot.h * (1.0 - (k + 1) as f64 / steps as f64));
            root.draw(&Rectangle::new([(px(lx), y0), (px(lx + 12.0), y1.max(y0 + 1))], lerp(&stops, f0).filled()))
                .map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }

    let mut labels = Vec::new();
    let (t0, t1) = (h.time_edges.first().copied().unwrap_or(0.0), h.time_edges.last().copied().unwrap_or(1.0));
    let zone = opts.zone()?;
    let (ticks, step) = time_ticks(t0, t1, ((plot.w / 90.0).floor() as usize).max(3), &zone);
    let bottom = plot.y + plot.h + low_h;
    let tick_style = ShapeStyle { color: opts_fg(&fg), filled: false, stroke_width: dpr.round().max(1.0) as u32 };
    let mut tick_lines = Vec::new();
    for t in ticks {
        let x = plot.x + plot.w * (t - t0) / (t1 - t0).max(1e-9);
        labels.push(Label { text: format_time(t, step, &zone), x, y: bottom + 6.0, align: "center", baseline: "top" });
        tick_lines.push(((x, bottom), (x, bottom + 4.0)));
    }
    let (lo, hi) = (h.value_edges.first().copied().unwrap_or(0.0), h.value_edges.last().copied().unwrap_or(1.0));
    let y_of = |v: f64| -> f64 {
        let f = match h.scale {
            Scale::Log if lo > 0.0 => (v / lo).ln() / (hi / lo).ln(),
            _ => (v - lo) / (hi - lo),
        };
        plot.y + plot.h * (1.0 - f)
    };
    for v in value_ticks(lo, hi, h.scale, (plot.h / 28.0).floor() as usize) {
        let y = y_of(v);
        labels.push(Label {
            text: format_value(v, unit.as_deref()),
            x: plot.x - 7.0,
            y,
            align: "right",
            baseline: "middle",
        });
        tick_lines.push(((plot.x - 4.0, y), (plot.x, y)));
    }
    if has_low {
        labels.push(Label {
            text: "≤0".into(),
            x: plot.x - 7.0,
            y: plot.y + plot.h + 5.0,
            align: "right",
            baseline: "middle",
        });
    }
    let lx = plot.x + plot.w + 30.0;
    labels.push(Label {
        text: format_value(h.max_count as f64, None),
        x: lx,
        y: plot.y,
        align: "left",
        baseline: "top",
    });
    labels.push(Label { text: "1".into(), x: lx, y: plot.y + plot.h, align: "left", baseline: "bottom" });
    labels.push(Label { text: "events".into(), x: lx, y: plot.y + plot.h / 2.0, align: "left", baseline: "middle" });
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, hgt)).into_drawing_area();
        for ((x0, y0), (x1, y1)) in tick_lines {
            root.draw(&PathElement::new(vec![(px(x0), px(y0)), (px(x1), px(y1))], tick_style)).map_err(plot_err)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(Rendered { width: w, height: hgt, rgba: rgb_to_rgba(&rgb, w, hgt), labels, plot })
}

fn opts_fg(fg: &RGBColor) -> RGBAColor {
    fg.to_rgba()
}

/// One line of a [`LineChart`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineSeries {
    /// The legend name (drawn by the host).
    pub name: String,
    /// One value per time bucket; `null` is a gap.
    pub values: Vec<Option<f64>>,
    /// Drawn dashed: the same group over an earlier window (a time comparison).
    #[serde(default)]
    pub dashed: bool,
    /// Index of its colour in the palette (default: its own index), so that a group's
    /// earlier line takes the group's colour.
    #[serde(default)]
    pub colour: Option<usize>,
}

/// A time series chart: buckets of `granularity` seconds from `start_time`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineChart {
    /// Start of the first bucket, unix seconds.
    pub start_time: f64,
    /// End of the range, unix seconds.
    pub end_time: f64,
    /// Seconds per bucket.
    pub granularity: f64,
    /// The lines, drawn in order (the first on top).
    pub series: Vec<LineSeries>,
    /// Unit of the values (`ms` formats as ms/s).
    #[serde(default)]
    pub unit: Option<String>,
}

/// Most lines drawn in one chart.
pub const MAX_LINES: usize = 50;

/// Renders a line chart: one line per series (points at bucket starts, gaps at nulls),
/// a value axis from zero (or the smallest value, if negative) with grid lines, and a
/// time axis. Legends and tooltips are the host's.
pub fn render_lines(chart: &LineChart, opts: &RenderOptions) -> Result<Rendered> {
    let dpr = if opts.dpr.is_finite() { opts.dpr.clamp(0.5, 4.0) } else { 1.0 };
    let (cw, ch) = (opts.width.clamp(120, 4000) as f64, opts.height.clamp(80, 3000) as f64);
    let (w, hgt) = ((cw * dpr).round() as u32, (ch * dpr).round() as u32);
    let bg = parse_hex(&opts.background)?;
    let fg = parse_hex(&opts.foreground)?;
    let grid = parse_hex(&opts.grid)?;
    let colours: Vec<RGBColor> = opts.lines.iter().map(|s| parse_hex(s)).collect::<Result<_>>()?;
    if colours.is_empty() {
        return Err(Error::Spec("lines needs at least one colour".into()));
    }
    let (t0, t1, g) = (chart.start_time, chart.end_time, chart.granularity);
    if !(t0.is_finite() && t1.is_finite() && g.is_finite() && t1 > t0 && g > 0.0) {
        return Err(Error::Spec("a line chart needs finite start_time < end_time and a positive granularity".into()));
    }
    if chart.series.len() > MAX_LINES {
        return Err(Error::Spec(format!("at most {MAX_LINES} lines, got {}", chart.series.len())));
    }
    let buckets = ((t1 - t0) / g).ceil().clamp(1.0, 100_000.0) as usize;
    if let Some(s) = chart.series.iter().find(|s| s.values.len() > buckets) {
        return Err(Error::Spec(format!("series \"{}\" has {} values for {buckets} buckets", s.name, s.values.len())));
    }
    let finite = || chart.series.iter().flat_map(|s| s.values.iter().flatten().copied()).filter(|v| v.is_finite());
    let lo = finite().fold(0.0f64, f64::min);
    let mut hi = finite().fold(f64::NEG_INFINITY, f64::max);
    if !hi.is_finite() || hi <= lo {
        hi = lo + 1.0;
    }
    let ticks = value_ticks(lo, hi, Scale::Linear, ((ch - 34.0) / 36.0).floor() as usize);
    let (lo, hi) = (lo.min(ticks.first().copied().unwrap_or(lo)), hi.max(ticks.last().copied().unwrap_or(hi)));
    let plot = Rect { x: 60.0, y: 10.0, w: (cw - 60.0 - 16.0).max(10.0), h: (ch - 10.0 - 26.0).max(10.0) };
    let px = |x: f64| (x * dpr).round() as i32;
    let x_of = |t: f64| plot.x + plot.w * (t - t0) / (t1 - t0);
    let y_of = |v: f64| plot.y + plot.h * (1.0 - (v - lo) / (hi - lo));
    let stroke = |c: RGBColor, wd: f64| ShapeStyle {
        color: c.to_rgba(),
        filled: false,
        stroke_width: (wd * dpr).round().max(1.0) as u32,
    };
    let mut labels = Vec::new();
    let mut rgb = vec![0u8; (w * hgt * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, hgt)).into_drawing_area();
        root.fill(&bg).map_err(plot_err)?;
        for v in &ticks {
            let y = y_of(*v);
            root.draw(&PathElement::new(vec![(px(plot.x), px(y)), (px(plot.x + plot.w), px(y))], stroke(grid, 1.0)))
                .map_err(plot_err)?;
            let unit = chart.unit.as_deref().or(opts.unit.as_deref());
            labels.push(Label { text: format_value(*v, unit), x: plot.x - 7.0, y, align: "right", baseline: "middle" });
        }
        let zone = opts.zone()?;
        let (tt, step) = time_ticks(t0, t1, ((plot.w / 90.0).floor() as usize).max(3), &zone);
        let bottom = plot.y + plot.h;
        for t in tt {
            let x = x_of(t);
            root.draw(&PathElement::new(vec![(px(x), px(bottom)), (px(x), px(bottom + 4.0))], stroke(fg, 1.0)))
                .map_err(plot_err)?;
            labels.push(Label {
                text: format_time(t, step, &zone),
                x,
                y: bottom + 6.0,
                align: "center",
                baseline: "top",
            });
        }
        root.draw(&PathElement::new(
            vec![(px(plot.x), px(bottom)), (px(plot.x + plot.w), px(bottom))],
            stroke(fg, 1.0),
        ))
        .map_err(plot_err)?;
        // Last series first, so that the first (the top group) is drawn on top.
        for (k, s) in chart.series.iter().enumerate().rev() {
            let colour = colours[s.colour.unwrap_or(k) % colours.len()];
            let dashed = s.dashed;
            let mut run: Vec<(i32, i32)> = Vec::new();
            let flush = |run: &mut Vec<(i32, i32)>| -> Result<()> {
                match run.len() {
                    0 => {}
                    1 => {
                        let (x, y) = run[0];
                        root.draw(&Circle::new((x, y), (1.5 * dpr).round().max(1.0) as i32, colour.filled()))
                            .map_err(plot_err)?;
                    }
                    _ if dashed => {
                        let (dash, gap) = ((5.0 * dpr).round() as i32, (4.0 * dpr).round() as i32);
                        root.draw(&plotters::element::DashedPathElement::new(
                            std::mem::take(run),
                            dash,
                            gap,
                            stroke(colour, 1.5),
                        ))
                        .map_err(plot_err)?
                    }
                    _ => root.draw(&PathElement::new(std::mem::take(run), stroke(colour, 1.5))).map_err(plot_err)?,
                }
                run.clear();
                Ok(())
            };
            for (i, v) in s.values.iter().enumerate() {
                match v {
                    Some(v) if v.is_finite() => {
                        run.push((px(x_of(t0 + (i as f64 + 0.5) * g).min(plot.x + plot.w)), px(y_of(*v))))
                    }
                    _ => flush(&mut run)?,
                }
            }
            flush(&mut run)?;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(Rendered { width: w, height: hgt, rgba: rgb_to_rgba(&rgb, w, hgt), labels, plot })
}

fn rgb_to_rgba(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((w * h * 4) as usize);
    for p in rgb.chunks_exact(3) {
        rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(format_value(1500.0, Some("ms")), "1.5s");
        assert_eq!(format_value(20.0, Some("ms")), "20ms");
        assert_eq!(format_value(0.5, Some("ms")), "0.5ms");
        assert_eq!(format_value(12_000.0, None), "12k");
        let utc = Zone::Fixed(0);
        assert_eq!(format_time(1_793_491_200.0, 3600.0, &utc), "Nov 1");
        assert_eq!(format_time(1_793_491_200.0 + 5400.0, 3600.0, &utc), "01:30");
        assert_eq!(format_time(1_793_491_200.0, 86_400.0, &utc), "2026-11-01");
        assert_eq!(format_time(f64::NAN, 3600.0, &utc), "Jan 1");
        assert_eq!(civil(0), (1970, 1, 1));
    }

    #[test]
    fn ticks_are_bounded_and_ordered() {
        let v = value_ticks(0.7, 45_000.0, Scale::Log, 8);
        assert!(v.len() <= 8 && v.len() >= 3, "{v:?}");
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        let v = value_ticks(-3.0, 97.0, Scale::Linear, 6);
        assert!(v.contains(&0.0) && v.len() <= 7, "{v:?}");
        let (t, step) = time_ticks(0.0, 86_400.0, 8, &Zone::Fixed(0));
        assert_eq!(step, 10_800.0);
        assert_eq!(t.len(), 9);
    }

    /// Labels on both sides of a daylight-saving change: 2026-03-08 in New York jumps
    /// from 02:00 EST to 03:00 EDT. A fixed offset would label one side an hour off.
    #[test]
    fn labels_across_dst() {
        let ny = Zone::parse("America/New_York").unwrap();
        // 06:30 and 07:30 UTC are 01:30 EST and 03:30 EDT.
        assert_eq!(format_time(1_772_951_400.0, 1800.0, &ny), "01:30");
        assert_eq!(format_time(1_772_955_000.0, 1800.0, &ny), "03:30");
        // Hourly ticks from 00:00 to 06:00 local: 02:00 does not exist.
        let (t0, t1) = (1_772_946_000.0, 1_772_946_000.0 + 5.0 * 3600.0);
        let (ticks, step) = time_ticks(t0, t1, 6, &ny);
        assert_eq!(step, 3600.0);
        let labels: Vec<String> = ticks.iter().map(|t| format_time(*t, step, &ny)).collect();
        assert_eq!(labels, ["Mar 8", "01:00", "03:00", "04:00", "05:00", "06:00"]);
        // Daily ticks fall on local midnights, 23 hours apart on the day of the change.
        let (ticks, step) = time_ticks(1_772_859_600.0, 1_772_859_600.0 + 3.0 * 86_400.0, 4, &ny);
        assert_eq!(step, 86_400.0);
        let labels: Vec<String> = ticks.iter().map(|t| format_time(*t, step, &ny)).collect();
        assert_eq!(labels, ["2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"]);
        assert_eq!(ticks[2] - ticks[1], 23.0 * 3600.0);
    }

    #[test]
    fn renders_pixels_and_labels() {
        let h = Heatmap {
            column: "duration_ms".into(),
            time_edges: vec![0.0, 60.0, 120.0],
            value_edges: vec![1.0, 10.0, 100.0],
            scale: Scale::Log,
            counts: vec![1, 0, 5, 9],
            low: vec![0, 2],
            max_count: 9,
            total: 17,
            nulls: 0,
        };
        let r = render_heatmap(&h, &RenderOptions { width: 300, height: 150, dpr: 2.0, ..Default::default() }).unwrap();
        assert_eq!((r.width, r.height), (600, 300));
        assert_eq!(r.rgba.len(), 600 * 300 * 4);
        // The most-populated cell (t=1, v=1) uses the last palette colour.
        let cx = ((r.plot.x + r.plot.w * 0.75) * 2.0) as usize;
        let cy = ((r.plot.y + r.plot.h * 0.25) * 2.0) as usize;
        let p = &r.rgba[(cy * 600 + cx) * 4..][..4];
        assert_eq!(p, &[0xe6, 0x55, 0x0d, 255]);
        assert!(r.labels.iter().any(|l| l.text == "10ms"));
        assert!(render_heatmap(&h, &RenderOptions { background: "red".into(), ..Default::default() }).is_err());
    }

    #[test]
    fn renders_lines_with_gaps() {
        let chart = LineChart {
            start_time: 0.0,
            end_time: 600.0,
            granularity: 60.0,
            series: vec![
                LineSeries {
                    name: "a".into(),
                    values: vec![Some(1.0), Some(5.0), None, Some(3.0), Some(10.0)],
                    dashed: false,
                    colour: None,
                },
                LineSeries { name: "b".into(), values: vec![Some(2.0); 10], dashed: false, colour: None },
            ],
            unit: Some("ms".into()),
        };
        let o = RenderOptions { width: 400, height: 200, dpr: 1.0, ..Default::default() };
        let r = render_lines(&chart, &o).unwrap();
        assert_eq!(r.rgba.len(), 400 * 200 * 4);
        assert!(r.labels.iter().any(|l| l.text == "10ms"), "{:?}", r.labels);
        // Series colours appear; the gap between buckets 1 and 3 has none of series a's colour.
        let has = |c: [u8; 3], x0: f64, x1: f64| {
            (0..200).any(|y| (x0 as usize..x1 as usize).any(|x| r.rgba[(y * 400 + x) * 4..][..3] == c))
        };
        let blue = [0x4e, 0x79, 0xa7];
        let x = |t: f64| r.plot.x + r.plot.w * t / 600.0;
        assert!(has(blue, x(30.0), x(90.0)));
        assert!(!has(blue, x(100.0), x(200.0)));
        assert!(has([0xf2, 0x8e, 0x2b], x(300.0), x(500.0)));
        let bad = LineChart {
            series: vec![LineSeries { values: vec![Some(1.0); 11], ..chart.series[1].clone() }],
            ..chart.clone()
        };
        assert!(render_lines(&bad, &o).unwrap_err().to_string().contains("11 values"));
        let bad = LineChart { end_time: 0.0, ..chart };
        assert!(render_lines(&bad, &o).is_err());
    }

    /// A time comparison's earlier line: dashed, in its group's colour.
    #[test]
    fn draws_earlier_lines_dashed_in_the_groups_colour() {
        let line =
            |v: f64, dashed: bool| LineSeries { name: "g".into(), values: vec![Some(v); 10], dashed, colour: Some(0) };
        let chart = LineChart {
            start_time: 0.0,
            end_time: 600.0,
            granularity: 60.0,
            series: vec![line(2.0, false), line(8.0, true)],
            unit: None,
        };
        let r =
            render_lines(&chart, &RenderOptions { width: 400, height: 200, dpr: 1.0, ..Default::default() }).unwrap();
        let blue = [0x4e, 0x79, 0xa7];
        // Runs of the colour along the row of each line, across the plot.
        let runs = |v: f64| {
            let (lo, hi) = (0.0, 8.0);
            let ticks = value_ticks(lo, hi, Scale::Linear, ((200.0 - 34.0) / 36.0f64).floor() as usize);
            let top = ticks.last().copied().unwrap_or(hi).max(hi);
            let y = (r.plot.y + r.plot.h * (1.0 - v / top)).round() as usize;
            let (x0, x1) = ((r.plot.x + 40.0) as usize, (r.plot.x + r.plot.w - 40.0) as usize);
            let on: Vec<bool> = (x0..x1)
                .map(|x| (y.saturating_sub(1)..=y + 1).any(|yy| r.rgba[(yy * 400 + x) * 4..][..3] == blue))
                .collect();
            on.windows(2).filter(|w| w[1] && !w[0]).count() + usize::from(on[0])
        };
        assert_eq!(runs(2.0), 1, "the current line is solid");
        assert!(runs(8.0) > 10, "the earlier line is dashed: {} runs", runs(8.0));
    }
}
