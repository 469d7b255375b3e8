//! The printed result: a table of cases (medians over rounds) and a table of the targets,
//! each "met", "MISSED" or "not built". Nothing here fails the run: targets are information.

use std::collections::BTreeMap;

/// The cases, in the order each round runs them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Case {
    Ceiling,
    Floor,
    Capture,
    /// `--against`: the other build's capture, right after this one's.
    Against,
    FloorOne,
    CaptureOne,
    AgainstOne,
    Signed,
    Relay,
    DeadTarget,
    ThroughOne,
    DirectOne,
}

impl Case {
    pub const ALL: [Case; 12] = [
        Case::Ceiling,
        Case::Floor,
        Case::Capture,
        Case::Against,
        Case::FloorOne,
        Case::CaptureOne,
        Case::AgainstOne,
        Case::Signed,
        Case::Relay,
        Case::DeadTarget,
        Case::ThroughOne,
        Case::DirectOne,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Case::Ceiling => "ceiling: plain axum, reads body, 200",
            Case::Floor | Case::FloorOne => "floor: axum + redb group commit",
            Case::Capture => "capture (durable, unsigned)",
            Case::CaptureOne => "capture",
            Case::Against | Case::AgainstOne => "capture by the --against build",
            Case::Signed => "capture, github signature verified",
            Case::Relay => "capture + relay to local consumer",
            Case::DeadTarget => "capture + relay to a dead target",
            Case::ThroughOne => "via hooklens to consumer (arrival)",
            Case::DirectOne => "direct to consumer (arrival)",
        }
    }

    /// The case run at this one's place in `round`: the two builds swap places every other
    /// round (A B, B A, ...), so neither always runs on the disk the other just filled.
    pub fn in_round(self, round: usize) -> Case {
        let swapped = round.is_multiple_of(2);
        match self {
            Case::Capture if swapped => Case::Against,
            Case::Against if swapped => Case::Capture,
            Case::CaptureOne if swapped => Case::AgainstOne,
            Case::AgainstOne if swapped => Case::CaptureOne,
            other => other,
        }
    }

    /// Cases run only with `--against`.
    pub fn is_against(self) -> bool {
        matches!(self, Case::Against | Case::AgainstOne)
    }

    /// Cases that need the relay: "not built" when nothing reaches the consumer.
    pub fn needs_relay(self) -> bool {
        matches!(
            self,
            Case::Relay | Case::DeadTarget | Case::ThroughOne | Case::DirectOne
        )
    }
}

/// One round of one case.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    pub connections: usize,
    pub req_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    pub rss_bytes: Option<u64>,
}

/// Everything one run measured.
#[derive(Default)]
pub struct Results {
    pub samples: BTreeMap<Case, Vec<Sample>>,
    /// `Some(false)` once a relay case delivered nothing.
    pub relay_built: Option<bool>,
    /// Per relay round: (delivered to the consumer, captured), for the notes.
    pub deliveries: Vec<(u64, u64)>,
    pub fsync_p50_p99_ms: Option<(f64, f64)>,
    pub disk: Option<DiskUse>,
    pub failures: Vec<String>,
}

/// What a history of `events` events occupies.
#[derive(Clone, Copy, Debug)]
pub struct DiskUse {
    pub events: u64,
    pub usage: crate::disk::Usage,
}

impl DiskUse {
    pub fn pages_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.usage.pages as f64 / self.events as f64)
    }

    pub fn file_per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| self.usage.file as f64 / self.events as f64)
    }
}

/// Medians over the rounds of one case.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub connections: usize,
    pub req_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// The highest peak over the rounds.
    pub rss_bytes: Option<u64>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Results {
    pub fn summary(&self, case: Case) -> Option<Summary> {
        let samples = self.samples.get(&case).filter(|s| !s.is_empty())?;
        let of = |f: fn(&Sample) -> f64| median(samples.iter().map(f).collect());
        Some(Summary {
            connections: samples[0].connections,
            req_per_sec: of(|s| s.req_per_sec),
            p50_ms: of(|s| s.p50_ms),
            p99_ms: of(|s| s.p99_ms),
            errors: samples.iter().map(|s| s.errors).sum(),
            rss_bytes: samples.iter().filter_map(|s| s.rss_bytes).max(),
        })
    }

    fn relay_missing(&self) -> bool {
        self.relay_built != Some(true)
    }

    pub fn peak_rss(&self) -> Option<u64> {
        Case::ALL
            .iter()
            .filter(|c| !c.is_against())
            .filter_map(|&c| self.summary(c)?.rss_bytes)
            .max()
    }

    pub fn print(&self) {
        self.print_cases();
        self.print_notes();
        self.print_targets();
        self.print_floor();
    }

    fn print_cases(&self) {
        println!();
        println!(
            "{:<38} {:>5} {:>9} {:>8} {:>8} {:>7} {:>6}",
            "case (median of rounds)", "conns", "req/s", "p50 ms", "p99 ms", "RSS MB", "errors"
        );
        for case in Case::ALL {
            if case.is_against() && self.summary(case).is_none() {
                continue;
            }
            let summary = self.summary(case);
            let Some(s) = summary.filter(|_| !(case.needs_relay() && self.relay_missing())) else {
                let why = if case.needs_relay() {
                    "not built"
                } else {
                    "failed"
                };
                println!("{:<38} {why:>15}", case.label());
                continue;
            };
            let rss = s
                .rss_bytes
                .map_or("-".to_owned(), |b| format!("{:.1}", mb(b)));
            println!(
                "{:<38} {:>5} {:>9.0} {:>8.3} {:>8.3} {:>7} {:>6}",
                case.label(),
                s.connections,
                s.req_per_sec,
                s.p50_ms,
                s.p99_ms,
                rss,
                s.errors
            );
        }
    }

    fn print_notes(&self) {
        println!();
        println!(
            "latency: send → full answer; for the two \"(arrival)\" rows: send → the consumer"
        );
        println!("  has the body. Through hooklens that includes the durable commit (outbox rule:");
        println!("  the relay starts only once the event is on disk).");
        if let Some((p50, p99)) = self.fsync_p50_p99_ms {
            println!(
                "fsync of a 4 KiB append on the history's disk: p50 {p50:.3} ms, p99 {p99:.3} ms"
            );
        }
        if let Some(d) = self.disk {
            println!(
                "history after {} events: {} B of pages in use ({:.0} B per event), file {} B \
                 ({:.0} B per event; redb grows it by doubling)",
                d.events,
                d.usage.pages,
                d.pages_per_event().unwrap_or(f64::NAN),
                d.usage.file,
                d.file_per_event().unwrap_or(f64::NAN)
            );
        }
        for (round, (delivered, captured)) in self.deliveries.iter().enumerate() {
            println!(
                "relay round {}: consumer received {delivered} of {captured} captured events",
                round + 1
            );
        }
    }

    fn print_targets(&self) {
        println!();
        println!("{:<44} {:>10} {:>12}  status", "target", "value", "bound");
        for t in self.targets() {
            let (value, status) = match t.value {
                Value::NotBuilt => ("-".to_owned(), "not built"),
                Value::Unmeasured => ("-".to_owned(), "not measured"),
                Value::Is(v) => {
                    let met = match t.bound {
                        Bound::AtLeast(b) => v >= b,
                        Bound::AtMost(b) => v <= b,
                    };
                    (t.unit.show(v), if met { "met" } else { "MISSED" })
                }
            };
            let bound = match t.bound {
                Bound::AtLeast(b) => format!(">= {}", t.unit.show(b)),
                Bound::AtMost(b) => format!("<= {}", t.unit.show(b)),
            };
            println!("{:<44} {value:>10} {bound:>12}  {status}", t.name);
        }
    }

    /// What the disk allows: the targets that a durable commit bounds, read against the floor.
    fn print_floor(&self) {
        let rps = |c: Case| self.summary(c).map(|s| s.req_per_sec);
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.3}", a / b),
            _ => "-".to_owned(),
        };
        let latency = |c: Case| {
            self.summary(c).map_or("-".to_owned(), |s| {
                format!("{:.3} / {:.3} ms", s.p50_ms, s.p99_ms)
            })
        };
        println!();
        println!(
            "against the floor (axum + redb group commit of the bare body, durable, two-phase):"
        );
        println!(
            "  floor / ceiling, req/s         {:>20}   the most any durable capture reaches here",
            ratio(rps(Case::Floor), rps(Case::Ceiling))
        );
        println!(
            "  capture / floor, req/s         {:>20}   what hooklens's own work costs",
            ratio(rps(Case::Capture), rps(Case::Floor))
        );
        println!(
            "  1 connection, p50 / p99: floor {:>20}   capture {}",
            latency(Case::FloorOne),
            latency(Case::CaptureOne)
        );
        if self.summary(Case::Against).is_some() {
            println!();
            println!("against the --against build (interleaved, same cases):");
            println!(
                "  capture, req/s: this / that   {:>20}",
                ratio(rps(Case::Capture), rps(Case::Against))
            );
            let p50 = |c: Case| self.summary(c).map(|s| s.p50_ms);
            println!(
                "  1 connection p50: that / this {:>20}   this {}   that {}",
                ratio(p50(Case::AgainstOne), p50(Case::CaptureOne)),
                latency(Case::CaptureOne),
                latency(Case::AgainstOne)
            );
        }
    }

    fn targets(&self) -> Vec<Target> {
        let rps = |c: Case| self.summary(c).map(|s| s.req_per_sec);
        let ratio = |a: Case, b: Case| match (rps(a), rps(b)) {
            (Some(a), Some(b)) if b > 0.0 => Value::Is(a / b),
            _ => Value::Unmeasured,
        };
        let relay = |v: Value| {
            if self.relay_missing() {
                Value::NotBuilt
            } else {
                v
            }
        };
        let one = self.summary(Case::CaptureOne);
        let added = |f: fn(&Summary) -> f64| {
            relay(
                match (
                    self.summary(Case::ThroughOne),
                    self.summary(Case::DirectOne),
                ) {
                    (Some(t), Some(d)) => Value::Is(f(&t) - f(&d)),
                    _ => Value::Unmeasured,
                },
            )
        };
        let disk = self
            .disk
            .and_then(|d| d.pages_per_event())
            .map_or(Value::Unmeasured, Value::Is);
        vec![
            Target::new(
                "durable capture / ceiling, req/s",
                ratio(Case::Capture, Case::Ceiling),
                Bound::AtLeast(0.40),
                Unit::Ratio,
            ),
            Target::new(
                "capture at 1 connection, p50",
                one.map_or(Value::Unmeasured, |s| Value::Is(s.p50_ms)),
                Bound::AtMost(1.0),
                Unit::Ms,
            ),
            Target::new(
                "capture at 1 connection, p99",
                one.map_or(Value::Unmeasured, |s| Value::Is(s.p99_ms)),
                Bound::AtMost(10.0),
                Unit::Ms,
            ),
            Target::new(
                "signed capture / unsigned capture",
                ratio(Case::Signed, Case::Capture),
                Bound::AtLeast(0.9),
                Unit::Ratio,
            ),
            Target::new(
                "capture + relay / capture alone",
                relay(ratio(Case::Relay, Case::Capture)),
                Bound::AtLeast(0.6),
                Unit::Ratio,
            ),
            Target::new(
                "relay added latency vs direct, p50",
                added(|s| s.p50_ms),
                Bound::AtMost(0.3),
                Unit::Ms,
            ),
            Target::new(
                "relay added latency vs direct, p99",
                added(|s| s.p99_ms),
                Bound::AtMost(2.0),
                Unit::Ms,
            ),
            Target::new(
                "capture with a dead target / with none",
                relay(ratio(Case::DeadTarget, Case::Capture)),
                Bound::AtLeast(0.8),
                Unit::Ratio,
            ),
            Target::new(
                "peak RSS of hooklens under load",
                self.peak_rss()
                    .map_or(Value::Unmeasured, |b| Value::Is(mb(b))),
                Bound::AtMost(100.0),
                Unit::Mb,
            ),
            Target::new(
                "history bytes per 1 KiB event (pages)",
                disk,
                Bound::AtMost(2048.0),
                Unit::Bytes,
            ),
        ]
    }
}

/// Megabytes (10^6), as the "100 MB" target reads.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

#[derive(Clone, Copy)]
enum Value {
    Is(f64),
    NotBuilt,
    Unmeasured,
}

#[derive(Clone, Copy)]
enum Bound {
    AtLeast(f64),
    AtMost(f64),
}

#[derive(Clone, Copy)]
enum Unit {
    Ratio,
    Ms,
    Mb,
    Bytes,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Ratio => format!("{v:.3}"),
            Unit::Ms => format!("{v:.3} ms"),
            Unit::Mb => format!("{v:.1} MB"),
            Unit::Bytes => format!("{v:.0} B"),
        }
    }
}

struct Target {
    name: &'static str,
    value: Value,
    bound: Bound,
    unit: Unit,
}

impl Target {
    fn new(name: &'static str, value: Value, bound: Bound, unit: Unit) -> Target {
        Target {
            name,
            value,
            bound,
            unit,
        }
    }
}
