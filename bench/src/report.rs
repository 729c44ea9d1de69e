//! The results: what one run of an implementation measured ([`Sample`]), a case's runs
//! of every implementation by round ([`CaseResult`]), their summaries (medians, min–max,
//! ratios to tokio and to the raw loop computed round by round), and the output formats:
//! the text table on stdout, a Markdown table (what the README shows), CSV and JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::{Spread, ratios_by_round};

/// An implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Implementation {
    RingtideUring,
    RingtideMio,
    Tokio,
    Monoio,
    /// A hand-written io_uring loop with no runtime: the machine's limit.
    RawUring,
    /// ringtide on io_uring through tokio's `AsyncRead`/`AsyncWrite` (feature
    /// `tokio-io`) instead of the owned-buffer traits: the poll path.
    RingtideUringPoll,
    /// The io_uring poll path with `Builder::uring_recv_multishot(true)`: reads copy
    /// out of a per-stream queue a multishot receive fills.
    RingtideUringPollMulti,
    /// ringtide on mio through tokio's `AsyncRead`/`AsyncWrite`.
    RingtideMioPoll,
}

impl Implementation {
    /// All of them, in table order.
    pub const ALL: [Implementation; 5] = [
        Implementation::RingtideUring,
        Implementation::RingtideMio,
        Implementation::Tokio,
        Implementation::Monoio,
        Implementation::RawUring,
    ];

    /// Every network server, in table order: [`ALL`](Self::ALL) and the poll-trait
    /// servers (the echo loop over tokio's `AsyncReadExt`/`AsyncWriteExt` on ringtide's
    /// streams), which only the network workloads run.
    pub const NETWORK: [Implementation; 8] = [
        Implementation::RingtideUring,
        Implementation::RingtideUringPoll,
        Implementation::RingtideUringPollMulti,
        Implementation::RingtideMio,
        Implementation::RingtideMioPoll,
        Implementation::Tokio,
        Implementation::Monoio,
        Implementation::RawUring,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Implementation::RingtideUring => "ringtide io_uring",
            Implementation::RingtideMio => "ringtide mio",
            Implementation::Tokio => "tokio",
            Implementation::Monoio => "monoio",
            Implementation::RawUring => "raw io_uring",
            Implementation::RingtideUringPoll => "ringtide io_uring (poll traits)",
            Implementation::RingtideUringPollMulti => {
                "ringtide io_uring (poll traits, multishot recv)"
            }
            Implementation::RingtideMioPoll => "ringtide mio (poll traits)",
        }
    }

    /// The name as one word (server role, file names).
    pub fn key(self) -> &'static str {
        match self {
            Implementation::RingtideUring => "ringtide-io_uring",
            Implementation::RingtideMio => "ringtide-mio",
            Implementation::Tokio => "tokio",
            Implementation::Monoio => "monoio",
            Implementation::RawUring => "raw-io_uring",
            Implementation::RingtideUringPoll => "ringtide-io_uring-poll",
            Implementation::RingtideUringPollMulti => "ringtide-io_uring-poll-recvmulti",
            Implementation::RingtideMioPoll => "ringtide-mio-poll",
        }
    }

    pub fn from_key(key: &str) -> Option<Implementation> {
        Implementation::NETWORK.into_iter().find(|i| i.key() == key)
    }
}

/// Latency percentiles of one run, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Percentiles {
    /// The percentiles of a histogram of nanoseconds; `None` when it is empty.
    pub fn of_nanos(histogram: &hdrhistogram::Histogram<u64>) -> Option<Percentiles> {
        if histogram.is_empty() {
            return None;
        }
        let micros = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
        Some(Percentiles {
            p50: micros(0.50),
            p99: micros(0.99),
            p999: micros(0.999),
        })
    }
}

/// What one measured run of one implementation gave.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Operations per second (the case's unit).
    pub throughput: f64,
    pub latency_us: Option<Percentiles>,
    /// CPU time per operation in µs: the server's (`getrusage` in the server process)
    /// for the network workloads, the process's for the in-process ones.
    pub cpu_per_op_us: Option<f64>,
    /// Server and load-generator CPU time over the window, as a fraction of the window
    /// (1.0 = one whole CPU).
    pub server_busy: Option<f64>,
    pub client_busy: Option<f64>,
}

/// One case (a row group of the table): every implementation's runs, by round.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    pub workload: &'static str,
    pub case: String,
    /// The throughput unit, e.g. `round trips/s`.
    pub unit: &'static str,
    pub implementations: Vec<Implementation>,
    /// `rounds[r][i]`: round `r` of `implementations[i]`; `None` if that run failed.
    pub rounds: Vec<Vec<Option<Sample>>>,
}

/// The summary of one implementation in one case.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub implementation: Implementation,
    pub throughput: Option<Spread>,
    /// Throughput / tokio's, per round.
    pub vs_tokio: Option<Spread>,
    /// Throughput / the raw loop's, per round.
    pub vs_raw: Option<Spread>,
    pub p50_us: Option<Spread>,
    pub p99_us: Option<Spread>,
    pub p999_us: Option<Spread>,
    pub cpu_per_op_us: Option<Spread>,
    /// CPU per operation / tokio's, per round.
    pub cpu_vs_tokio: Option<Spread>,
    pub server_busy: Option<Spread>,
    pub client_busy: Option<Spread>,
}

impl CaseResult {
    /// An empty case for `implementations`, to be filled round by round.
    pub fn new(
        workload: &'static str,
        case: String,
        unit: &'static str,
        implementations: Vec<Implementation>,
    ) -> CaseResult {
        CaseResult {
            workload,
            case,
            unit,
            implementations,
            rounds: Vec::new(),
        }
    }

    /// One implementation's value of `field` in every round (`None` where missing).
    fn column(&self, index: usize, field: impl Fn(&Sample) -> Option<f64>) -> Vec<Option<f64>> {
        self.rounds
            .iter()
            .map(|round| {
                round
                    .get(index)
                    .cloned()
                    .flatten()
                    .as_ref()
                    .and_then(&field)
            })
            .collect()
    }

    fn index_of(&self, implementation: Implementation) -> Option<usize> {
        self.implementations
            .iter()
            .position(|&candidate| candidate == implementation)
    }

    /// The summaries, in the order of `implementations`.
    pub fn summaries(&self) -> Vec<Summary> {
        let throughput = |sample: &Sample| Some(sample.throughput);
        let cpu = |sample: &Sample| sample.cpu_per_op_us;
        let reference = |implementation, field: &dyn Fn(&Sample) -> Option<f64>| {
            self.index_of(implementation)
                .map(|index| self.column(index, field))
        };
        let tokio = reference(Implementation::Tokio, &throughput);
        let tokio_cpu = reference(Implementation::Tokio, &cpu);
        let raw = reference(Implementation::RawUring, &throughput);
        let ratio = |mine: &[Option<f64>], theirs: &Option<Vec<Option<f64>>>| {
            theirs
                .as_ref()
                .and_then(|theirs| Spread::of(ratios_by_round(mine, theirs)))
        };
        let spread = |values: Vec<Option<f64>>| Spread::of(values.into_iter().flatten());
        self.implementations
            .iter()
            .enumerate()
            .map(|(index, &implementation)| {
                let mine = self.column(index, throughput);
                let my_cpu = self.column(index, cpu);
                let latency = |pick: fn(&Percentiles) -> f64| {
                    spread(self.column(index, |s| s.latency_us.as_ref().map(pick)))
                };
                Summary {
                    implementation,
                    throughput: spread(mine.clone()),
                    vs_tokio: ratio(&mine, &tokio),
                    vs_raw: ratio(&mine, &raw),
                    p50_us: latency(|p| p.p50),
                    p99_us: latency(|p| p.p99),
                    p999_us: latency(|p| p.p999),
                    cpu_per_op_us: spread(my_cpu.clone()),
                    cpu_vs_tokio: ratio(&my_cpu, &tokio_cpu),
                    server_busy: spread(self.column(index, |s| s.server_busy)),
                    client_busy: spread(self.column(index, |s| s.client_busy)),
                }
            })
            .collect()
    }
}

/// `61.7k`, `1.02M`, `950`: a rate with three significant digits.
pub fn human(value: f64) -> String {
    let (scaled, suffix) = if value.abs() >= 1e6 {
        (value / 1e6, "M")
    } else if value.abs() >= 1e3 {
        (value / 1e3, "k")
    } else {
        (value, "")
    };
    let digits = if scaled.abs() >= 100.0 {
        0
    } else if scaled.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{scaled:.digits$}{suffix}")
}

/// `0.94 (0.90–0.99)` for a ratio; `-` when there is none.
fn ratio_cell(spread: Option<Spread>) -> String {
    spread.map_or("-".to_owned(), |s| {
        if s.runs > 1 {
            format!("{:.2} ({:.2}–{:.2})", s.median, s.min, s.max)
        } else {
            format!("{:.2}", s.median)
        }
    })
}

fn throughput_cell(spread: Option<Spread>) -> String {
    spread.map_or("-".to_owned(), |s| {
        if s.runs > 1 {
            format!("{} ({}–{})", human(s.median), human(s.min), human(s.max))
        } else {
            human(s.median)
        }
    })
}

/// A time in µs with three significant digits (at least one decimal below 100).
fn micros_cell(spread: Option<Spread>) -> String {
    spread.map_or("-".to_owned(), |s| {
        let digits = match s.median.abs() {
            value if value >= 100.0 => 0,
            value if value >= 10.0 => 1,
            value if value >= 1.0 => 2,
            _ => 3,
        };
        format!("{:.digits$}", s.median)
    })
}

fn percent_cell(spread: Option<Spread>) -> String {
    spread.map_or("-".to_owned(), |s| format!("{:.0}%", s.median * 100.0))
}

/// The columns of the text and Markdown tables.
const HEADERS: [&str; 11] = [
    "workload",
    "case",
    "implementation",
    "throughput: median (min–max)",
    "× tokio",
    "× raw",
    "p50 µs",
    "p99 µs",
    "p99.9 µs",
    "CPU µs/op (× tokio)",
    "server/client CPU",
];

fn rows(cases: &[CaseResult]) -> Vec<[String; 11]> {
    let mut rows = Vec::new();
    for case in cases {
        for summary in case.summaries() {
            let cpu = match (summary.cpu_per_op_us, summary.cpu_vs_tokio) {
                (Some(cpu), Some(ratio)) => {
                    format!("{} ({:.2})", micros_cell(Some(cpu)), ratio.median)
                }
                (cpu, _) => micros_cell(cpu),
            };
            let busy = match (summary.server_busy, summary.client_busy) {
                (None, None) => "-".to_owned(),
                (server, client) => format!("{}/{}", percent_cell(server), percent_cell(client)),
            };
            rows.push([
                case.workload.to_owned(),
                case.case.clone(),
                summary.implementation.name().to_owned(),
                format!("{} {}", throughput_cell(summary.throughput), case.unit),
                ratio_cell(summary.vs_tokio),
                ratio_cell(summary.vs_raw),
                micros_cell(summary.p50_us),
                micros_cell(summary.p99_us),
                micros_cell(summary.p999_us),
                cpu,
                busy,
            ]);
        }
    }
    rows
}

/// The table for a terminal: columns padded to their widest cell.
pub fn text_table(cases: &[CaseResult]) -> String {
    let rows = rows(cases);
    let mut widths = HEADERS.map(|header| header.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut line = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            if index > 0 {
                line.push_str("  ");
            }
            // Text columns left-aligned, numbers right-aligned.
            if index < 3 {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            }
        }
        line.trim_end().to_owned() + "\n"
    };
    let mut table = line(&HEADERS.map(str::to_owned));
    let mut previous_case = None;
    for row in &rows {
        let this_case = (row[0].clone(), row[1].clone());
        if previous_case.is_some() && previous_case.as_ref() != Some(&this_case) {
            table.push('\n');
        }
        table.push_str(&line(row));
        previous_case = Some(this_case);
    }
    table
}

/// The same table in Markdown (for the README).
pub fn markdown_table(cases: &[CaseResult]) -> String {
    let mut table = format!("| {} |\n", HEADERS.join(" | "));
    table.push_str(&format!("|{}\n", "---|".repeat(HEADERS.len())));
    for row in rows(cases) {
        let cells: Vec<String> = row.iter().map(|cell| cell.replace('|', "\\|")).collect();
        table.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    table
}

/// One row per case: tokio's throughput, every other implementation's throughput as a
/// multiple of tokio's (median of the per-round ratios, min–max), and ringtide
/// io_uring's as a multiple of the raw loop's. The README's table.
pub fn summary_markdown(cases: &[CaseResult]) -> String {
    let others = [
        Implementation::RingtideUring,
        Implementation::RingtideMio,
        Implementation::Monoio,
        Implementation::RawUring,
    ];
    let mut table = String::from("| workload | case | tokio |");
    for other in others {
        let _ = write!(table, " {} × tokio |", other.name());
    }
    table.push_str(" ringtide io_uring × raw |\n|---|---|---|---|---|---|---|---|\n");
    for case in cases {
        let summaries = case.summaries();
        let find = |implementation: Implementation| {
            summaries
                .iter()
                .find(|summary| summary.implementation == implementation)
        };
        let tokio = find(Implementation::Tokio)
            .and_then(|summary| summary.throughput)
            .map_or("-".to_owned(), |spread| {
                format!("{} {}", human(spread.median), case.unit)
            });
        let _ = write!(
            table,
            "| {} | {} | {tokio} |",
            case.workload,
            case.case.replace('|', "\\|")
        );
        for other in others {
            let cell = find(other).map_or("n/a".to_owned(), |summary| ratio_cell(summary.vs_tokio));
            let _ = write!(table, " {cell} |");
        }
        let vs_raw = find(Implementation::RingtideUring)
            .map_or("-".to_owned(), |summary| ratio_cell(summary.vs_raw));
        let _ = writeln!(table, " {vs_raw} |");
    }
    table
}

/// One CSV line per case and implementation; empty fields where nothing was measured.
pub fn csv(cases: &[CaseResult]) -> String {
    fn field(text: &str) -> String {
        if text.contains([',', '"', '\n']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_owned()
        }
    }
    fn spread_fields(spread: Option<Spread>) -> [String; 3] {
        match spread {
            Some(s) => [s.median, s.min, s.max].map(|v| format!("{v}")),
            None => Default::default(),
        }
    }
    let mut out = String::from(
        "workload,case,implementation,unit,runs,\
         throughput_median,throughput_min,throughput_max,\
         vs_tokio_median,vs_tokio_min,vs_tokio_max,\
         vs_raw_median,vs_raw_min,vs_raw_max,\
         p50_us,p99_us,p999_us,cpu_per_op_us,cpu_vs_tokio,server_busy,client_busy\n",
    );
    for case in cases {
        for summary in case.summaries() {
            let median =
                |spread: Option<Spread>| spread.map_or(String::new(), |s| format!("{}", s.median));
            let mut fields = vec![
                field(case.workload),
                field(&case.case),
                field(summary.implementation.name()),
                field(case.unit),
                summary.throughput.map_or(0, |s| s.runs).to_string(),
            ];
            fields.extend(spread_fields(summary.throughput));
            fields.extend(spread_fields(summary.vs_tokio));
            fields.extend(spread_fields(summary.vs_raw));
            for spread in [
                summary.p50_us,
                summary.p99_us,
                summary.p999_us,
                summary.cpu_per_op_us,
                summary.cpu_vs_tokio,
                summary.server_busy,
                summary.client_busy,
            ] {
                fields.push(median(spread));
            }
            let _ = writeln!(out, "{}", fields.join(","));
        }
    }
    out
}

/// The whole run as JSON: the machine, the settings, every case's raw rounds and
/// summaries, and the notes (skipped implementations, workloads that do not apply).
#[derive(Serialize)]
pub struct Report<'a> {
    pub mode: &'static str,
    pub command: String,
    /// Seconds since the Unix epoch when the run started.
    pub started_unix: u64,
    pub machine: &'a crate::system::Machine,
    pub runs: usize,
    pub settings: String,
    pub notes: &'a [String],
    pub cases: Vec<CaseReport<'a>>,
}

/// A case with its summaries, for the JSON.
#[derive(Serialize)]
pub struct CaseReport<'a> {
    #[serde(flatten)]
    pub case: &'a CaseResult,
    pub summaries: Vec<Summary>,
}

impl<'a> CaseReport<'a> {
    pub fn of(cases: &'a [CaseResult]) -> Vec<CaseReport<'a>> {
        cases
            .iter()
            .map(|case| CaseReport {
                case,
                summaries: case.summaries(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(throughput: f64, cpu: Option<f64>) -> Option<Sample> {
        Some(Sample {
            throughput,
            cpu_per_op_us: cpu,
            ..Sample::default()
        })
    }

    /// Three rounds of ringtide io_uring, tokio and the raw loop.
    fn case() -> CaseResult {
        let mut case = CaseResult::new(
            "pingpong",
            "100 B, 16 conns".into(),
            "rt/s",
            vec![
                Implementation::RingtideUring,
                Implementation::Tokio,
                Implementation::RawUring,
            ],
        );
        case.rounds = vec![
            vec![
                sample(100.0, Some(2.0)),
                sample(50.0, Some(4.0)),
                sample(200.0, None),
            ],
            vec![
                sample(90.0, Some(3.0)),
                sample(60.0, Some(3.0)),
                sample(180.0, None),
            ],
            vec![sample(120.0, Some(2.0)), sample(40.0, Some(4.0)), None],
        ];
        case
    }

    #[test]
    fn summaries_take_medians_and_round_by_round_ratios() {
        let summaries = case().summaries();
        let ringtide = &summaries[0];
        let throughput = ringtide.throughput.unwrap();
        assert_eq!(
            (throughput.median, throughput.min, throughput.max),
            (100.0, 90.0, 120.0)
        );
        // Per round: 2.0, 1.5, 3.0 against tokio.
        let vs_tokio = ringtide.vs_tokio.unwrap();
        assert_eq!(
            (vs_tokio.median, vs_tokio.min, vs_tokio.max),
            (2.0, 1.5, 3.0)
        );
        // The raw loop's third round failed: two ratios, 0.5 and 0.5.
        let vs_raw = ringtide.vs_raw.unwrap();
        assert_eq!((vs_raw.median, vs_raw.runs), (0.5, 2));
        // CPU per op: 0.5, 1.0, 0.5 of tokio's.
        assert_eq!(ringtide.cpu_vs_tokio.unwrap().median, 0.5);
        // tokio against itself is 1; nothing measured no latency.
        assert_eq!(summaries[1].vs_tokio.unwrap().median, 1.0);
        assert!(ringtide.p50_us.is_none());
        assert!(summaries[2].cpu_per_op_us.is_none());
    }

    #[test]
    fn without_tokio_or_raw_there_are_no_ratios() {
        let mut case = case();
        case.implementations = vec![Implementation::Monoio];
        case.rounds = vec![vec![sample(10.0, None)]];
        let summary = &case.summaries()[0];
        assert!(summary.vs_tokio.is_none() && summary.vs_raw.is_none());
        assert_eq!(summary.throughput.unwrap().median, 10.0);
    }

    #[test]
    fn human_numbers_keep_three_digits() {
        assert_eq!(human(61_734.0), "61.7k");
        assert_eq!(human(1_020_000.0), "1.02M");
        assert_eq!(human(950.0), "950");
        assert_eq!(human(9.5), "9.50");
        assert_eq!(human(123_456.0), "123k");
    }

    #[test]
    fn text_table_has_a_row_per_implementation_and_aligned_columns() {
        let table = text_table(&[case()]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("workload"));
        assert!(lines[1].contains("ringtide io_uring"));
        assert!(lines[1].contains("100 (90.0–120) rt/s"), "{}", lines[1]);
        assert!(lines[1].contains("2.00 (1.50–3.00)"), "{}", lines[1]);
        assert!(lines[1].contains("2.00 (0.50)"), "{}", lines[1]);
        let column = lines[0].find("× tokio").unwrap();
        assert!(lines.iter().all(|line| line.len() >= column), "{table}");
    }

    #[test]
    fn markdown_table_escapes_pipes() {
        let mut case = case();
        case.case = "a|b".into();
        let table = markdown_table(&[case]);
        assert!(table.starts_with("| workload | case |"));
        assert_eq!(table.lines().count(), 2 + 3);
        assert!(table.contains("| a\\|b |"));
    }

    #[test]
    fn summary_has_a_row_per_case_with_ratios_and_n_a_for_absent_implementations() {
        let table = summary_markdown(&[case()]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        assert!(lines[0].starts_with("| workload | case | tokio | ringtide io_uring × tokio |"));
        assert_eq!(
            lines[2],
            "| pingpong | 100 B, 16 conns | 50.0 rt/s | 2.00 (1.50–3.00) | n/a | n/a | 3.50 (3.00–4.00) | 0.50 (0.50–0.50) |"
        );
    }

    #[test]
    fn csv_quotes_commas_and_leaves_missing_fields_empty() {
        let csv = csv(&[case()]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4);
        let header: Vec<&str> = lines[0].split(',').collect();
        assert_eq!(header.len(), 21);
        assert!(lines[1].starts_with(
            "pingpong,\"100 B, 16 conns\",ringtide io_uring,rt/s,3,100,90,120,2,1.5,3,0.5,0.5,0.5,"
        ));
        // The raw loop: no ratio to itself missing, but no CPU and no latency.
        assert!(lines[3].ends_with(",,,,,,,"), "{}", lines[3]);
    }

    #[test]
    fn json_has_the_rounds_and_the_summaries() {
        let cases = [case()];
        let machine = crate::system::Machine {
            kernel: "Linux 6.1".into(),
            cpu_model: "test".into(),
            cpus: 2,
            crate_versions: "tokio 1".into(),
            auto_backend: "io_uring".into(),
            pinning: "none".into(),
        };
        let report = Report {
            mode: "smoke",
            command: "ringtide-bench --smoke".into(),
            started_unix: 1,
            machine: &machine,
            runs: 3,
            settings: String::new(),
            notes: &["monoio: skipped".to_owned()],
            cases: CaseReport::of(&cases),
        };
        let value: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(value["machine"]["kernel"], "Linux 6.1");
        assert_eq!(value["cases"][0]["workload"], "pingpong");
        assert_eq!(value["cases"][0]["rounds"].as_array().unwrap().len(), 3);
        assert_eq!(value["cases"][0]["rounds"][2][2], serde_json::Value::Null);
        assert_eq!(value["cases"][0]["summaries"][0]["vs_tokio"]["median"], 2.0);
        assert_eq!(
            value["cases"][0]["summaries"][0]["implementation"],
            "RingtideUring"
        );
        assert_eq!(value["notes"][0], "monoio: skipped");
    }

    #[test]
    fn implementation_keys_round_trip() {
        for implementation in Implementation::NETWORK {
            assert_eq!(
                Implementation::from_key(implementation.key()),
                Some(implementation)
            );
        }
        assert_eq!(Implementation::from_key("glommio"), None);
    }
}
