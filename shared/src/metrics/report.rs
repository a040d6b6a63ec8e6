//! The figures of a period, from the counters of [`super`]: what `GET /metrics` answers and
//! the daily report writes to S3 (the same [`Report`] for one day).
//!
//! Every rate comes with its numerator and denominator, so a client can add days up or
//! compare periods without trusting our rounding; a rate whose denominator is 0 is `null`.
//! Rates and shares are rounded to 4 decimals. Response times are the SLA overview's
//! histograms ([`crate::response_times`]) with every queue merged: p50 and p90 are upper
//! bounds of a histogram bucket ("at most N minutes").
//!
//! - satisfaction rate: surveys answered with CSAT 4 or 5 over surveys answered;
//! - response rate: surveys answered over surveys sent (each counted on the day it happened,
//!   so one day's rate compares that day's answers with that day's sends);
//! - complaint rate: complaints (cases opened that are not inquiries) over orders placed;
//! - per SKU, refund and return rate: cases resolved with a refund (a return) remedy over the
//!   units of that SKU sold, both in the period.
//!
//! Reading ([`read`]) costs one Query per series over the whole period, whatever the number
//! of days, cases or SKUs: [`CASES`], [`SALES`], [`SURVEYS`] and the four response-time
//! series (two queues, two measures).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{
    AGENT_ANSWERED, AGENT_CSAT_SUM, AGENT_SATISFIED, CASES, SALES, SKU_CASES, SKU_REFUNDS,
    SKU_RETURNS, SKU_UNITS, SURVEYS, category_attribute, per_day, period_bounds,
};
use crate::case::Queue;
use crate::complaint::Category;
use crate::response_times::{Measure, ResponseTimeCounters, ResponseTimeSummary};
use crate::service_levels::response_time_series;
use crate::store::{CounterStore, StoreError};

/// The longest period one report covers, in days (a leap year).
pub const MAX_DAYS: i64 = 366;

/// Counter items as read, each with its period.
pub type Items = Vec<(String, BTreeMap<String, i64>)>;

/// What the figures of a period are computed from: the items of each series over the period.
#[derive(Debug, Clone, Default)]
pub struct PeriodCounters {
    pub cases: Items,
    pub sales: Items,
    pub surveys: Items,
    /// First-response histograms of every queue.
    pub first_response: Items,
    /// Resolution histograms of every queue.
    pub resolution: Items,
}

/// A ratio with what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// numerator / denominator, 4 decimals; `null` when the denominator is 0.
    pub rate: Option<f64>,
    pub numerator: i64,
    pub denominator: i64,
}

impl Rate {
    pub fn of(numerator: i64, denominator: i64) -> Rate {
        Rate {
            rate: (denominator > 0)
                .then(|| (numerator as f64 / denominator as f64 * 10_000.0).round() / 10_000.0),
            numerator,
            denominator,
        }
    }
}

/// Cases opened and resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseCounts {
    pub opened: i64,
    /// Opened cases that are not inquiries.
    pub complaints: i64,
    pub resolved: i64,
    pub resolved_with_refund: i64,
    pub resolved_with_return: i64,
    /// Cases opened per category (every category, 0 included).
    pub by_category: BTreeMap<&'static str, i64>,
}

/// Survey outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveyCounts {
    pub sent: i64,
    pub opted_out: i64,
    pub answered: i64,
    pub satisfied: i64,
}

/// First-response or resolution times, all queues merged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    #[serde(flatten)]
    pub summary: ResponseTimeSummary,
    /// Observations within their target (`share_within_target` = this / `count`).
    pub within_target: i64,
}

/// One SKU's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkuFigures {
    pub sku: String,
    pub units_sold: i64,
    /// Cases opened naming the SKU.
    pub cases: i64,
    pub refund_cases: i64,
    pub return_cases: i64,
    /// refund_cases / units_sold.
    pub refund_rate: Rate,
    /// return_cases / units_sold.
    pub return_rate: Rate,
}

/// The survey answers credited to one agent (who resolved the surveyed cases).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentFigures {
    /// `"<role>:<subject>"`.
    pub agent: String,
    pub answered: i64,
    pub satisfied: i64,
    /// satisfied / answered.
    pub satisfaction_rate: Rate,
    /// The mean CSAT (1–5): sum of the scores / answered.
    pub average_csat: Rate,
}

/// The figures of a day or a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub cases: CaseCounts,
    pub orders: i64,
    pub units_sold: i64,
    pub surveys: SurveyCounts,
    /// satisfied / answered.
    pub satisfaction_rate: Rate,
    /// answered / sent.
    pub response_rate: Rate,
    /// complaints / orders.
    pub complaint_rate: Rate,
    pub first_response: Times,
    pub resolution: Times,
    /// Every SKU sold or named by a case, by SKU.
    pub skus: Vec<SkuFigures>,
    /// Every agent credited with an answered survey, by agent.
    pub agents: Vec<AgentFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub figures: Figures,
}

/// What `GET /metrics` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The whole period.
    pub period: Figures,
    /// Every day of the period, oldest first, days without activity included.
    pub days: Vec<DayFigures>,
}

/// A counter, never below 0 (a counter is only ever corrected by hand).
fn count(counters: &BTreeMap<String, i64>, name: &str) -> i64 {
    counters.get(name).copied().unwrap_or(0).max(0)
}

fn times(histogram: &ResponseTimeCounters) -> Times {
    Times {
        summary: histogram.summary(),
        within_target: histogram.within_target,
    }
}

/// The figures of summed counters.
pub fn figures(
    cases: &BTreeMap<String, i64>,
    sales: &BTreeMap<String, i64>,
    surveys: &BTreeMap<String, i64>,
    first_response: &ResponseTimeCounters,
    resolution: &ResponseTimeCounters,
) -> Figures {
    let case_counts = CaseCounts {
        opened: count(cases, "opened"),
        complaints: count(cases, "complaints"),
        resolved: count(cases, "resolved"),
        resolved_with_refund: count(cases, "refunds"),
        resolved_with_return: count(cases, "returns"),
        by_category: Category::BY_SERIOUSNESS
            .into_iter()
            .map(|c| (c.as_str(), count(cases, &category_attribute(c))))
            .collect(),
    };
    let survey_counts = SurveyCounts {
        sent: count(surveys, "sent"),
        opted_out: count(surveys, "opted_out"),
        answered: count(surveys, "answered"),
        satisfied: count(surveys, "satisfied"),
    };
    let mut names: Vec<&str> = Vec::new();
    for (counters, prefixes) in [
        (cases, &[SKU_CASES, SKU_REFUNDS, SKU_RETURNS][..]),
        (sales, &[SKU_UNITS][..]),
    ] {
        for name in counters.keys() {
            if let Some(sku) = prefixes.iter().find_map(|p| name.strip_prefix(p)) {
                names.push(sku);
            }
        }
    }
    names.sort_unstable();
    names.dedup();
    let skus = names
        .into_iter()
        .map(|sku| {
            let units_sold = count(sales, &format!("{SKU_UNITS}{sku}"));
            let refund_cases = count(cases, &format!("{SKU_REFUNDS}{sku}"));
            let return_cases = count(cases, &format!("{SKU_RETURNS}{sku}"));
            SkuFigures {
                sku: sku.to_owned(),
                units_sold,
                cases: count(cases, &format!("{SKU_CASES}{sku}")),
                refund_cases,
                return_cases,
                refund_rate: Rate::of(refund_cases, units_sold),
                return_rate: Rate::of(return_cases, units_sold),
            }
        })
        .filter(|s| s.units_sold + s.cases + s.refund_cases + s.return_cases > 0)
        .collect();
    let agents = surveys
        .keys()
        .filter_map(|name| name.strip_prefix(AGENT_ANSWERED))
        .map(|agent| {
            let answered = count(surveys, &format!("{AGENT_ANSWERED}{agent}"));
            let satisfied = count(surveys, &format!("{AGENT_SATISFIED}{agent}"));
            AgentFigures {
                agent: agent.to_owned(),
                answered,
                satisfied,
                satisfaction_rate: Rate::of(satisfied, answered),
                average_csat: Rate::of(
                    count(surveys, &format!("{AGENT_CSAT_SUM}{agent}")),
                    answered,
                ),
            }
        })
        .filter(|a| a.answered > 0)
        .collect();
    let orders = count(sales, "orders");
    Figures {
        agents,
        satisfaction_rate: Rate::of(survey_counts.satisfied, survey_counts.answered),
        response_rate: Rate::of(survey_counts.answered, survey_counts.sent),
        complaint_rate: Rate::of(case_counts.complaints, orders),
        cases: case_counts,
        orders,
        units_sold: count(sales, "units"),
        surveys: survey_counts,
        first_response: times(first_response),
        resolution: times(resolution),
        skus,
    }
}

/// The histograms of each day.
fn histograms(items: &Items) -> BTreeMap<NaiveDate, ResponseTimeCounters> {
    per_day(items)
        .into_iter()
        .map(|(day, counters)| {
            (
                day,
                ResponseTimeCounters::from_attributes(
                    counters.iter().map(|(name, n)| (name.as_str(), *n)),
                ),
            )
        })
        .collect()
}

/// The report of the days `from` to `to` (both included) from their counters; items outside
/// the period are left out.
pub fn report(from: NaiveDate, to: NaiveDate, counters: &PeriodCounters) -> Report {
    let cases = per_day(&counters.cases);
    let sales = per_day(&counters.sales);
    let surveys = per_day(&counters.surveys);
    let first = histograms(&counters.first_response);
    let resolution = histograms(&counters.resolution);
    let empty = BTreeMap::new();
    let no_times = ResponseTimeCounters::default();
    let mut totals: [BTreeMap<String, i64>; 3] = Default::default();
    let mut first_total = ResponseTimeCounters::default();
    let mut resolution_total = ResponseTimeCounters::default();
    let mut days = Vec::new();
    for day in from.iter_days().take_while(|day| *day <= to) {
        let of_day = [&cases, &sales, &surveys].map(|series| series.get(&day).unwrap_or(&empty));
        for (total, counters) in totals.iter_mut().zip(of_day) {
            for (name, n) in counters {
                *total.entry(name.clone()).or_insert(0) += n;
            }
        }
        let day_first = first.get(&day).unwrap_or(&no_times);
        let day_resolution = resolution.get(&day).unwrap_or(&no_times);
        first_total.merge(day_first);
        resolution_total.merge(day_resolution);
        days.push(DayFigures {
            day,
            figures: figures(of_day[0], of_day[1], of_day[2], day_first, day_resolution),
        });
    }
    Report {
        from,
        to,
        period: figures(
            &totals[0],
            &totals[1],
            &totals[2],
            &first_total,
            &resolution_total,
        ),
        days,
    }
}

/// Reads the counters of the days `from` to `to` (one Query per series) and computes their
/// report.
pub async fn read(
    store: &impl CounterStore,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Report, StoreError> {
    let (first, last) = period_bounds(from, to);
    let mut counters = PeriodCounters {
        cases: store.counter_items_between(CASES, &first, &last).await?,
        sales: store.counter_items_between(SALES, &first, &last).await?,
        surveys: store.counter_items_between(SURVEYS, &first, &last).await?,
        ..PeriodCounters::default()
    };
    for queue in Queue::ALL {
        for measure in [Measure::FirstResponse, Measure::Resolution] {
            let items = store
                .counter_items_between(&response_time_series(queue, measure), &first, &last)
                .await?;
            match measure {
                Measure::FirstResponse => counters.first_response.extend(items),
                Measure::Resolution => counters.resolution.extend(items),
            }
        }
    }
    Ok(report(from, to, &counters))
}

/// The CSV columns of the daily report, in order.
pub const CSV_COLUMNS: [&str; 6] = [
    "day",
    "metric",
    "subject",
    "value",
    "numerator",
    "denominator",
];

/// The report's days as CSV, one row per metric and day (the long format a spreadsheet's
/// pivot table takes): `subject` names the category or the SKU of per-category and per-SKU
/// rows; rates fill `numerator` and `denominator`; an unknown value (a rate over 0, a
/// percentile in the open bucket) is an empty field. RFC 4180 with CRLF, text guarded
/// against formula injection as the refund export does.
pub fn to_csv(report: &Report) -> String {
    let mut csv = String::new();
    push_row(&mut csv, CSV_COLUMNS.map(str::to_owned));
    for day in &report.days {
        let day_text = day.day.to_string();
        let mut row = |metric: &str, subject: &str, value: String, rate: Option<&Rate>| {
            push_row(
                &mut csv,
                [
                    day_text.clone(),
                    metric.to_owned(),
                    subject.to_owned(),
                    value,
                    rate.map(|r| r.numerator.to_string()).unwrap_or_default(),
                    rate.map(|r| r.denominator.to_string()).unwrap_or_default(),
                ],
            );
        };
        let f = &day.figures;
        let number = |n: i64| n.to_string();
        let optional = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
        let ratio = |r: &Rate| r.rate.map(|r| r.to_string()).unwrap_or_default();
        row("cases_opened", "", number(f.cases.opened), None);
        row("complaints", "", number(f.cases.complaints), None);
        row("cases_resolved", "", number(f.cases.resolved), None);
        row(
            "cases_resolved_with_refund",
            "",
            number(f.cases.resolved_with_refund),
            None,
        );
        row(
            "cases_resolved_with_return",
            "",
            number(f.cases.resolved_with_return),
            None,
        );
        for (category, n) in &f.cases.by_category {
            row("cases_by_category", category, number(*n), None);
        }
        row("orders", "", number(f.orders), None);
        row("units_sold", "", number(f.units_sold), None);
        row("surveys_sent", "", number(f.surveys.sent), None);
        row("surveys_opted_out", "", number(f.surveys.opted_out), None);
        row("surveys_answered", "", number(f.surveys.answered), None);
        row("surveys_satisfied", "", number(f.surveys.satisfied), None);
        for (metric, rate) in [
            ("satisfaction_rate", &f.satisfaction_rate),
            ("response_rate", &f.response_rate),
            ("complaint_rate", &f.complaint_rate),
        ] {
            row(metric, "", ratio(rate), Some(rate));
        }
        for (measure, times) in [
            ("first_response", &f.first_response),
            ("resolution", &f.resolution),
        ] {
            let s = &times.summary;
            row(&format!("{measure}_count"), "", number(s.count), None);
            row(
                &format!("{measure}_p50_minutes_at_most"),
                "",
                optional(s.p50_minutes_at_most),
                None,
            );
            row(
                &format!("{measure}_p90_minutes_at_most"),
                "",
                optional(s.p90_minutes_at_most),
                None,
            );
            let within = Rate::of(times.within_target, s.count);
            row(
                &format!("{measure}_within_target"),
                "",
                ratio(&within),
                Some(&within),
            );
        }
        for sku in &f.skus {
            row("sku_units_sold", &sku.sku, number(sku.units_sold), None);
            row("sku_cases", &sku.sku, number(sku.cases), None);
            row(
                "sku_refund_rate",
                &sku.sku,
                ratio(&sku.refund_rate),
                Some(&sku.refund_rate),
            );
            row(
                "sku_return_rate",
                &sku.sku,
                ratio(&sku.return_rate),
                Some(&sku.return_rate),
            );
        }
        for agent in &f.agents {
            row(
                "agent_surveys_answered",
                &agent.agent,
                number(agent.answered),
                None,
            );
            row(
                "agent_satisfaction_rate",
                &agent.agent,
                ratio(&agent.satisfaction_rate),
                Some(&agent.satisfaction_rate),
            );
            row(
                "agent_average_csat",
                &agent.agent,
                ratio(&agent.average_csat),
                Some(&agent.average_csat),
            );
        }
    }
    csv
}

fn push_row(csv: &mut String, fields: impl IntoIterator<Item = String>) {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|f| crate::refund::export::field(&f))
        .collect();
    csv.push_str(&fields.join(","));
    csv.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response_times::increments;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn item(period: &str, pairs: &[(&str, i64)]) -> (String, BTreeMap<String, i64>) {
        (
            period.to_owned(),
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        )
    }

    fn histogram_item(
        period: &str,
        observations: &[(i64, bool)],
    ) -> (String, BTreeMap<String, i64>) {
        let mut counters = BTreeMap::new();
        for &(minutes, within) in observations {
            for (name, n) in increments(minutes, within) {
                *counters.entry(name.to_owned()).or_insert(0) += n;
            }
        }
        (period.to_owned(), counters)
    }

    fn sample() -> PeriodCounters {
        PeriodCounters {
            cases: vec![
                item(
                    "2026-11-11#0",
                    &[
                        ("opened", 2),
                        ("complaints", 2),
                        ("category#damaged_in_transit", 2),
                        ("cases#SERUM-30", 2),
                    ],
                ),
                item(
                    "2026-11-11#3",
                    &[
                        ("opened", 1),
                        ("category#inquiry", 1),
                        ("cases#CREAM-50", 1),
                        ("resolved", 2),
                        ("refunds", 1),
                        ("refunds#SERUM-30", 1),
                        ("returns", 1),
                        ("returns#CREAM-50", 1),
                    ],
                ),
                item(
                    "2026-11-12#1",
                    &[("opened", 1), ("complaints", 1), ("cases#SERUM-30", 1)],
                ),
                // Outside the period asked for.
                item("2026-11-14#1", &[("opened", 50)]),
            ],
            sales: vec![
                item(
                    "2026-11-11#2",
                    &[("orders", 3), ("units", 40), ("units#SERUM-30", 40)],
                ),
                item(
                    "2026-11-12#6",
                    &[("orders", 1), ("units", 10), ("units#SERUM-30", 10)],
                ),
            ],
            surveys: vec![item(
                "2026-11-11#4",
                &[
                    ("sent", 4),
                    ("answered", 3),
                    ("satisfied", 2),
                    ("opted_out", 1),
                ],
            )],
            first_response: vec![
                histogram_item("2026-11-11", &[(5, true), (12, true)]),
                // Another queue, same day: merged.
                histogram_item("2026-11-11", &[(100, false)]),
                histogram_item("2026-11-12", &[(30, true)]),
            ],
            resolution: vec![],
        }
    }

    #[test]
    fn rates_keep_their_terms_and_are_null_over_zero() {
        assert_eq!(
            Rate::of(1, 3),
            Rate {
                rate: Some(0.3333),
                numerator: 1,
                denominator: 3
            }
        );
        assert_eq!(Rate::of(0, 0).rate, None);
        assert_eq!(Rate::of(5, 0).rate, None);
        assert_eq!(Rate::of(0, 7).rate, Some(0.0));
    }

    #[test]
    fn a_period_report_sums_its_days_and_every_day_is_listed() {
        let report = report(day(10), day(13), &sample());
        assert_eq!(
            report.days.iter().map(|d| d.day).collect::<Vec<_>>(),
            vec![day(10), day(11), day(12), day(13)]
        );
        let eleventh = &report.days[1].figures;
        assert_eq!(eleventh.cases.opened, 3);
        assert_eq!(eleventh.cases.complaints, 2);
        assert_eq!(eleventh.cases.by_category["damaged_in_transit"], 2);
        assert_eq!(eleventh.cases.by_category["inquiry"], 1);
        assert_eq!(eleventh.cases.by_category["adverse_reaction"], 0);
        assert_eq!(eleventh.complaint_rate, Rate::of(2, 3));
        assert_eq!(eleventh.satisfaction_rate, Rate::of(2, 3));
        assert_eq!(eleventh.response_rate, Rate::of(3, 4));
        assert_eq!(eleventh.first_response.summary.count, 3);
        assert_eq!(eleventh.first_response.within_target, 2);
        // Ranks: p50 = 2nd (at most 15), p90 = 3rd (at most 120).
        assert_eq!(
            eleventh.first_response.summary.p50_minutes_at_most,
            Some(15)
        );
        assert_eq!(
            eleventh.first_response.summary.p90_minutes_at_most,
            Some(120)
        );
        assert_eq!(
            eleventh.skus,
            vec![
                SkuFigures {
                    sku: "CREAM-50".into(),
                    units_sold: 0,
                    cases: 1,
                    refund_cases: 0,
                    return_cases: 1,
                    refund_rate: Rate::of(0, 0),
                    return_rate: Rate::of(1, 0),
                },
                SkuFigures {
                    sku: "SERUM-30".into(),
                    units_sold: 40,
                    cases: 2,
                    refund_cases: 1,
                    return_cases: 0,
                    refund_rate: Rate::of(1, 40),
                    return_rate: Rate::of(0, 40),
                },
            ]
        );
        let empty = &report.days[0].figures;
        assert_eq!(empty.cases.opened, 0);
        assert_eq!(empty.satisfaction_rate.rate, None);
        assert_eq!(empty.first_response.summary.p50_minutes_at_most, None);
        assert!(empty.skus.is_empty());

        let period = &report.period;
        assert_eq!(period.cases.opened, 4, "the 14th is outside");
        assert_eq!(period.orders, 4);
        assert_eq!(period.complaint_rate, Rate::of(3, 4));
        assert_eq!(period.first_response.summary.count, 4);
        let serum = period.skus.iter().find(|s| s.sku == "SERUM-30").unwrap();
        assert_eq!((serum.units_sold, serum.cases), (50, 3));
        assert_eq!(serum.refund_rate, Rate::of(1, 50));
    }

    #[test]
    fn the_json_names_its_fields_and_flattens_the_day() {
        let report = report(day(12), day(12), &sample());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["from"], "2026-11-12");
        assert_eq!(json["days"][0]["day"], "2026-11-12");
        assert_eq!(
            json["days"][0]["complaint_rate"],
            serde_json::json!({"rate": 1.0, "numerator": 1, "denominator": 1})
        );
        assert_eq!(
            json["period"]["first_response"],
            serde_json::json!({"count": 1, "p50_minutes_at_most": 30, "p90_minutes_at_most": 30,
                "share_within_target": 1.0, "beyond_last_bucket": false, "within_target": 1})
        );
        assert_eq!(
            json["period"]["satisfaction_rate"]["rate"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn the_csv_has_one_row_per_metric_and_guards_skus() {
        let mut counters = sample();
        counters
            .sales
            .push(item("2026-11-12#0", &[("units#=HYPERLINK(1)", 2)]));
        let csv = to_csv(&report(day(12), day(12), &counters));
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "day,metric,subject,value,numerator,denominator");
        assert!(lines.contains(&"2026-11-12,cases_opened,,1,,"));
        assert!(lines.contains(&"2026-11-12,complaint_rate,,1,1,1"));
        assert!(lines.contains(&"2026-11-12,satisfaction_rate,,,0,0"));
        assert!(lines.contains(&"2026-11-12,cases_by_category,adverse_reaction,0,,"));
        assert!(lines.contains(&"2026-11-12,first_response_p50_minutes_at_most,,30,,"));
        assert!(lines.contains(&"2026-11-12,sku_refund_rate,SERUM-30,0,0,10"));
        assert!(lines.contains(&"2026-11-12,sku_units_sold,'=HYPERLINK(1),2,,"));
        assert_eq!(lines.last(), Some(&""), "every row ends with CRLF");
    }

    #[test]
    fn answers_are_credited_to_each_agent_over_the_period() {
        let mut counters = sample();
        counters.surveys.extend([
            item(
                "2026-11-11#3",
                &[
                    ("answered#agent:a-1", 2),
                    ("satisfied#agent:a-1", 1),
                    ("csat_sum#agent:a-1", 7),
                ],
            ),
            item(
                "2026-11-12#5",
                &[
                    ("answered#agent:a-1", 1),
                    ("satisfied#agent:a-1", 1),
                    ("csat_sum#agent:a-1", 5),
                    ("answered#supervisor:s-2", 1),
                    ("satisfied#supervisor:s-2", 0),
                    ("csat_sum#supervisor:s-2", 1),
                ],
            ),
        ]);
        let period = report(day(11), day(12), &counters).period;
        let a1 = period
            .agents
            .iter()
            .find(|a| a.agent == "agent:a-1")
            .unwrap();
        assert_eq!((a1.answered, a1.satisfied), (3, 2));
        assert_eq!(a1.satisfaction_rate, Rate::of(2, 3));
        assert_eq!(a1.average_csat, Rate::of(12, 3));
        assert_eq!(a1.average_csat.rate, Some(4.0));
        assert_eq!(period.agents.len(), 2, "{:?}", period.agents);
        let one_day = report(day(11), day(11), &counters);
        assert_eq!(
            one_day.period.agents.len(),
            1,
            "only a-1 answered on the 11th"
        );
        let csv = to_csv(&report(day(12), day(12), &counters));
        assert!(
            csv.contains("2026-11-12,agent_average_csat,supervisor:s-2,1,1,1\r\n"),
            "{csv}"
        );
        assert!(
            csv.contains("2026-11-12,agent_surveys_answered,agent:a-1,1,,\r\n"),
            "{csv}"
        );
    }
}
