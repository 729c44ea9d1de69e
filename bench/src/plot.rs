//! SVG plots with plotters' SVG backend (text is written as SVG `<text>`, so no system
//! fonts are needed): one chart per workload, each case a group of bars, one bar per
//! implementation: its throughput relative to tokio's (the median of the per-round
//! ratios), with a whisker from the smallest to the largest ratio.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::{CaseResult, Implementation};

fn color(implementation: Implementation) -> RGBColor {
    match implementation {
        Implementation::RingtideUring => RGBColor(31, 119, 180),
        Implementation::RingtideMio => RGBColor(255, 127, 14),
        Implementation::Tokio => RGBColor(44, 160, 44),
        Implementation::Monoio => RGBColor(214, 39, 40),
        Implementation::RawUring => RGBColor(148, 103, 189),
        Implementation::RingtideUringPoll => RGBColor(23, 190, 207),
        Implementation::RingtideUringPollMulti => RGBColor(0, 128, 128),
        Implementation::RingtideMioPoll => RGBColor(188, 189, 34),
    }
}

/// Draws `cases` (one workload's) into an SVG file at `path`. Cases without tokio draw
/// no bars; an error says what plotters could not do.
pub fn ratio_chart(path: &Path, title: &str, cases: &[CaseResult]) -> Result<(), String> {
    let implementations: Vec<Implementation> = Implementation::NETWORK
        .into_iter()
        .filter(|implementation| {
            cases
                .iter()
                .any(|case| case.implementations.contains(implementation))
        })
        .collect();
    let summaries: Vec<_> = cases.iter().map(CaseResult::summaries).collect();
    let top = summaries
        .iter()
        .flatten()
        .filter_map(|summary| summary.vs_tokio.map(|ratio| ratio.max))
        .fold(1.0f64, f64::max)
        * 1.15;
    let width =
        (220 + 40 * implementations.len().max(1) * cases.len().max(1)).clamp(640, 2400) as u32;
    let root = SVGBackend::new(path, (width, 480)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..cases.len().max(1) as f64, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .light_line_style(WHITE)
            .y_desc("throughput / tokio's")
            .draw()?;
        chart.draw_series(LineSeries::new(
            [(0.0, 1.0), (cases.len() as f64, 1.0)],
            BLACK.mix(0.4),
        ))?;
        let slot = 0.8 / implementations.len().max(1) as f64;
        for (position, &implementation) in implementations.iter().enumerate() {
            let mut bars = Vec::new();
            let mut whiskers = Vec::new();
            for (index, (case, summaries)) in cases.iter().zip(&summaries).enumerate() {
                let Some(ratio) = case
                    .implementations
                    .iter()
                    .position(|&candidate| candidate == implementation)
                    .and_then(|at| summaries[at].vs_tokio)
                else {
                    continue;
                };
                let left = index as f64 + 0.1 + slot * position as f64;
                let middle = left + slot / 2.0;
                bars.push(Rectangle::new(
                    [(left, 0.0), (left + slot * 0.9, ratio.median)],
                    color(implementation).filled(),
                ));
                whiskers.push(PathElement::new(
                    vec![(middle, ratio.min), (middle, ratio.max)],
                    BLACK,
                ));
            }
            chart
                .draw_series(bars)?
                .label(implementation.name())
                .legend(move |(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 10, y + 5)],
                        color(implementation).filled(),
                    )
                });
            chart.draw_series(whiskers)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        // Case names under their groups.
        let style = ("sans-serif", 12)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top));
        for (index, case) in cases.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(index as f64 + 0.5, 0.0));
            for (line, text) in case.case.split(", ").enumerate() {
                root.draw(&Text::new(
                    text.to_owned(),
                    (x, y + 6 + 14 * line as i32),
                    style.clone(),
                ))?;
            }
        }
        root.present()?;
        Ok(())
    };
    draw().map_err(|error| format!("plotting {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Sample;

    #[test]
    fn writes_an_svg_with_the_labels_and_one_bar_per_measured_ratio() {
        let mut case = CaseResult::new(
            "pingpong",
            "100 B, 16 conns".into(),
            "rt/s",
            vec![Implementation::RingtideUring, Implementation::Tokio],
        );
        let sample = |throughput| {
            Some(Sample {
                throughput,
                ..Sample::default()
            })
        };
        case.rounds = vec![
            vec![sample(2.0), sample(1.0)],
            vec![sample(3.0), sample(1.0)],
        ];
        let path =
            std::env::temp_dir().join(format!("ringtide-bench-plot-{}.svg", std::process::id()));
        ratio_chart(&path, "ping-pong", &[case]).expect("plot");
        let svg = std::fs::read_to_string(&path).expect("the SVG");
        std::fs::remove_file(&path).ok();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        for text in [
            "ping-pong",
            "100 B",
            "16 conns",
            "ringtide io_uring",
            "tokio",
        ] {
            assert!(svg.contains(text), "missing {text:?}");
        }
        // Two bars (plus the legend's swatches and the background).
        assert!(svg.matches("<rect").count() >= 4);
    }
}
