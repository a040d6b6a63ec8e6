//! Service metrics (`GET /metrics`, the daily report): the counter items every write adds to,
//! and how a period's figures are read back from them, never by scanning cases.
//!
//! Daily counters live in the metrics table under a `series` and a period of the UTC day,
//! split over [`COUNTER_SHARDS`] items per day (`YYYY-MM-DD#<shard>`, the shard taken from the
//! case id, or for orders from the order reference): writers add inside their own
//! transactions, and a transaction that touches an item conflicts with any other touching it
//! at the same time, so one item per day would turn a Singles' Day burst into retries. A
//! reader queries `YYYY-MM-DD` to `YYYY-MM-DD#~` and sums.
//!
//! Series and their attributes (all counts):
//! - [`SURVEYS`]: `sent`, `opted_out` (a due survey not sent because the customer opted out),
//!   `unreachable` (neither an e-mail address nor a store webhook to send it with),
//!   `delivery_unknown` (an attempt ended without reporting whether it sent; never resent),
//!   `answered`, `satisfied` (CSAT 4 or 5), `csat_1` … `csat_5`, `nps_answers`,
//!   `nps_promoters` (9–10), `nps_detractors` (0–6); each on the day it happened; and per
//!   agent credited with the rating (the survey's `resolved_by`, `"<role>:<subject>"`), on the
//!   day answered: `answered#<agent>`, `satisfied#<agent>`, `csat_sum#<agent>` (so one Query
//!   reads every agent's figures, as with SKUs).
//! - [`CASES`] (written by intake with the case, in its transaction; see
//!   [`case_counter_changes`]), on the UTC day the case was opened:
//!   `opened`, `complaints` (every opened case that is not an `inquiry`: the numerator of the
//!   complaint rate), `category#<category>`, `cases#<sku>` (one per distinct SKU of the case's
//!   lines); on the UTC day of its resolution: `resolved`, `refunds` and `returns` (resolved
//!   with a [refund](is_refund) or a [return](is_return) remedy), `refunds#<sku>`,
//!   `returns#<sku>`. Reopening a case takes it back out of its resolution day (the same
//!   attributes, minus one), so a case counts once, under its last remedy: a report of a past
//!   day can change when one of its cases is reopened.
//! - [`SALES`] (written by intake with the order, in the webhook's transaction, only when the
//!   order is first recorded: updates and redeliveries never count again), on the UTC day the
//!   order was placed: `orders`, `units`, `units#<sku>` (lines without a SKU count in `units`
//!   only).
//! - [`units_sold_series`] `units-sold#<sku>#<batch>`, period [`ALL_TIME`], attribute `units`:
//!   the units of that SKU and batch ever sold (lines with a batch only), written with
//!   [`SALES`]; one unsharded item per batch, read with one GetItem by the quality alerts
//!   (their "share of the units of a batch sold" rule).
//!
//! Item size: DynamoDB items hold at most 400 KB. A per-SKU attribute takes its name (a SKU is
//! at most 64 characters, so at most 73 bytes with the prefix) plus at most 21 bytes of number,
//! so one day-shard item of [`CASES`] (three attributes per SKU) holds about 1,400 distinct
//! SKUs with cases, and one of [`SALES`] about 4,000 SKUs sold, per day and shard: far beyond a
//! skincare brand's catalogue of a few hundred SKUs.
//!
//! The figures of a period are computed by [`report`] from those counters, read with one Query
//! per series over the whole period ([`report::read`]).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::case::{Case, CaseId, CaseStatus, Sku};
use crate::complaint::Category;
use crate::quality_alert::BatchNo;
use crate::remedy::Remedy;
pub use crate::service_levels::CounterChange;
use crate::storefront::StoreOrder;
use crate::workflow::Resolution;

pub mod report;

/// Items per series and day.
pub const COUNTER_SHARDS: u8 = 8;

/// Survey outcomes per day.
pub const SURVEYS: &str = "surveys";

/// Cases opened and resolved per day.
pub const CASES: &str = "cases";

/// Orders and units sold per day.
pub const SALES: &str = "sales";

/// The period of lifetime counters.
pub const ALL_TIME: &str = "all";

/// Prefixes of the [`SURVEYS`] attributes of the answers credited to one agent.
pub const AGENT_ANSWERED: &str = "answered#";
pub const AGENT_SATISFIED: &str = "satisfied#";
pub const AGENT_CSAT_SUM: &str = "csat_sum#";

/// The lifetime units sold of one SKU and batch (period [`ALL_TIME`], attribute `units`).
pub fn units_sold_series(sku: &Sku, batch: &BatchNo) -> String {
    format!("units-sold#{}#{batch}", sku.as_str())
}

/// The period item a change about `case` on `day` adds to.
pub fn day_period(day: NaiveDate, case: &CaseId) -> String {
    let shard = case.random_bits() % u128::from(COUNTER_SHARDS);
    format!("{}#{shard}", day.format("%Y-%m-%d"))
}

/// The period item a change about something keyed by `key` (an order reference) on `day`
/// adds to: FNV-1a of the key, so the same order always lands on the same shard.
pub fn day_period_of_key(day: NaiveDate, key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!(
        "{}#{}",
        day.format("%Y-%m-%d"),
        hash % u64::from(COUNTER_SHARDS)
    )
}

/// The day a period item counts (`YYYY-MM-DD` or `YYYY-MM-DD#<shard>`).
pub fn day_of(period: &str) -> Option<NaiveDate> {
    let day = period.split_once('#').map_or(period, |(day, _)| day);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// The period bounds that select every shard of the days `from` to `to`, both included.
pub fn period_bounds(from: NaiveDate, to: NaiveDate) -> (String, String) {
    (
        from.format("%Y-%m-%d").to_string(),
        format!("{}#~", to.format("%Y-%m-%d")),
    )
}

/// Money goes back to the customer: a full or a partial refund.
pub fn is_refund(remedy: Remedy) -> bool {
    matches!(remedy, Remedy::Refund | Remedy::PartialRefund)
}

/// Goods go back and are sent again: a replacement or an exchange. (A full refund on return
/// of the goods counts as a refund.)
pub fn is_return(remedy: Remedy) -> bool {
    matches!(remedy, Remedy::Replacement | Remedy::Exchange)
}

/// Whether an opened case counts as a complaint: anything but a question.
pub fn is_complaint(category: Category) -> bool {
    category != Category::Inquiry
}

/// The attribute of the cases of one category.
pub fn category_attribute(category: Category) -> String {
    format!("category#{}", category.as_str())
}

/// Per-SKU attribute prefixes.
pub const SKU_CASES: &str = "cases#";
pub const SKU_REFUNDS: &str = "refunds#";
pub const SKU_RETURNS: &str = "returns#";
pub const SKU_UNITS: &str = "units#";

/// Collects additions, one change per item and one entry per attribute, as a DynamoDB
/// transaction needs (it may touch an item once).
#[derive(Debug, Default)]
pub struct CounterChanges(Vec<CounterChange>);

impl CounterChanges {
    pub fn add(&mut self, series: &str, period: &str, attribute: &str, amount: i64) {
        let index = match self
            .0
            .iter()
            .position(|c| c.series == series && c.period == period)
        {
            Some(index) => index,
            None => {
                self.0.push(CounterChange {
                    series: series.to_owned(),
                    period: period.to_owned(),
                    adds: vec![],
                });
                self.0.len() - 1
            }
        };
        let change = &mut self.0[index];
        match change.adds.iter_mut().find(|(a, _)| a == attribute) {
            Some((_, total)) => *total += amount,
            None => change.adds.push((attribute.to_owned(), amount)),
        }
    }

    /// Adds every change of `changes` (from another rule, say the SLA overview's).
    pub fn extend(&mut self, changes: impl IntoIterator<Item = CounterChange>) {
        for change in changes {
            for (attribute, amount) in &change.adds {
                self.add(&change.series, &change.period, attribute, *amount);
            }
        }
    }

    /// The changes, without additions of zero and items left with none.
    pub fn into_changes(self) -> Vec<CounterChange> {
        self.0
            .into_iter()
            .filter_map(|mut change| {
                change.adds.retain(|(_, n)| *n != 0);
                (!change.adds.is_empty()).then_some(change)
            })
            .collect()
    }
}

/// Merges several rules' changes into one change per item (for one transaction).
pub fn merged(changes: impl IntoIterator<Item = CounterChange>) -> Vec<CounterChange> {
    let mut all = CounterChanges::default();
    all.extend(changes);
    all.into_changes()
}

/// The distinct SKUs of a case's lines, in order.
fn skus(case: &Case) -> Vec<&str> {
    let mut skus: Vec<&str> = case.lines.iter().map(|l| l.sku.as_str()).collect();
    skus.sort_unstable();
    skus.dedup();
    skus
}

/// What a resolution adds (`sign` 1) or, when the case is reopened, takes back (`sign` -1).
fn resolution_changes(
    changes: &mut CounterChanges,
    case: &Case,
    resolution: &Resolution,
    sign: i64,
) {
    let period = day_period(resolution.at.date_naive(), &case.id);
    changes.add(CASES, &period, "resolved", sign);
    let refund = is_refund(resolution.remedy);
    let goods_back = is_return(resolution.remedy);
    if refund {
        changes.add(CASES, &period, "refunds", sign);
    }
    if goods_back {
        changes.add(CASES, &period, "returns", sign);
    }
    for sku in skus(case) {
        if refund {
            changes.add(CASES, &period, &format!("{SKU_REFUNDS}{sku}"), sign);
        }
        if goods_back {
            changes.add(CASES, &period, &format!("{SKU_RETURNS}{sku}"), sign);
        }
    }
}

/// What changing `before` into `after` (`before` is `None` for a new case) adds to the
/// [`CASES`] counters. Merge with the SLA overview's changes through [`merged`] before
/// writing them in one transaction.
pub fn case_counter_changes(before: Option<&Case>, after: &Case) -> Vec<CounterChange> {
    let mut changes = CounterChanges::default();
    if before.is_none() {
        let period = day_period(after.opened_at.date_naive(), &after.id);
        let category = after.classification.category;
        changes.add(CASES, &period, "opened", 1);
        changes.add(CASES, &period, &category_attribute(category), 1);
        if is_complaint(category) {
            changes.add(CASES, &period, "complaints", 1);
        }
        for sku in skus(after) {
            changes.add(CASES, &period, &format!("{SKU_CASES}{sku}"), 1);
        }
    }
    let was = before.and_then(|case| case.resolution.as_ref().map(|r| (case, r)));
    let is = after.resolution.as_ref();
    let resolved = |case: &Case| matches!(case.status, CaseStatus::Resolved | CaseStatus::Closed);
    match (was, is) {
        (None, Some(resolution)) if resolved(after) => {
            resolution_changes(&mut changes, after, resolution, 1)
        }
        (Some((case, resolution)), None) => resolution_changes(&mut changes, case, resolution, -1),
        _ => {}
    }
    changes.into_changes()
}

/// What recording `order` for the first time adds to the counters: [`SALES`] on the day it
/// was placed and each batch's lifetime [`units_sold_series`]. Never call it for an update
/// or a redelivery of an order already recorded.
pub fn order_counter_changes(order: &StoreOrder, reference: &str) -> Vec<CounterChange> {
    let mut changes = CounterChanges::default();
    let period = day_period_of_key(order.placed_at.date_naive(), reference);
    changes.add(SALES, &period, "orders", 1);
    for line in &order.lines {
        let units = i64::from(line.quantity);
        changes.add(SALES, &period, "units", units);
        let Some(sku) = line.sku.as_deref().and_then(|raw| Sku::parse(raw).ok()) else {
            continue;
        };
        changes.add(
            SALES,
            &period,
            &format!("{SKU_UNITS}{}", sku.as_str()),
            units,
        );
        if let Some(batch) = line
            .batch
            .as_deref()
            .and_then(|raw| BatchNo::parse(raw).ok())
        {
            changes.add(&units_sold_series(&sku, &batch), ALL_TIME, "units", units);
        }
    }
    changes.into_changes()
}

/// Sums counter items per day (items whose period names no day are left out).
pub fn per_day<'a>(
    items: impl IntoIterator<Item = &'a (String, BTreeMap<String, i64>)>,
) -> BTreeMap<NaiveDate, BTreeMap<String, i64>> {
    let mut days: BTreeMap<NaiveDate, BTreeMap<String, i64>> = BTreeMap::new();
    for (period, counters) in items {
        if let Some(day) = day_of(period) {
            let sums = days.entry(day).or_default();
            for (name, value) in counters {
                *sums.entry(name.clone()).or_insert(0) += value;
            }
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assessment::Assessment;
    use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
    use crate::sla::SlaPolicy;
    use crate::storefront::{Platform, StoreOrderLine};
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 23, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn case(text: &str, skus: &[&str]) -> Case {
        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "o".into(),
            lines: skus
                .iter()
                .map(|sku| NewCaseLine {
                    sku: (*sku).into(),
                    quantity: 1,
                })
                .collect(),
            description: text.into(),
            opened: None,
        })
        .unwrap();
        Case::open(
            draft,
            "c-1",
            Assessment::of_text(text, &Default::default(), t(0)),
            t(0),
            &SlaPolicy::default(),
        )
    }

    fn resolved(case: &Case, remedy: Remedy, at: DateTime<Utc>) -> Case {
        let mut next = case.clone();
        next.status = CaseStatus::Resolved;
        next.resolution = Some(Resolution {
            remedy,
            amount_minor: None,
            refund_id: None,
            note: None,
            by: "agent:a-1".into(),
            at,
        });
        next
    }

    /// The additions of the changes to one series and day, whatever the shard.
    fn adds(changes: &[CounterChange], series: &str, day: &str) -> BTreeMap<String, i64> {
        let mut all = BTreeMap::new();
        for change in changes {
            if change.series == series && day_of(&change.period).unwrap().to_string() == day {
                for (name, n) in &change.adds {
                    *all.entry(name.clone()).or_insert(0) += n;
                }
            }
        }
        all
    }

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn a_days_shards_sort_between_its_bounds_and_name_their_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        let (from, to) = period_bounds(day, day);
        let mut shards = std::collections::BTreeSet::new();
        for hour in 0..200 {
            let case = CaseId::from_instant(Utc.with_ymd_and_hms(2026, 11, 11, 0, 0, 0).unwrap());
            let period = day_period(day, &case);
            assert!(period.as_str() >= from.as_str() && period.as_str() <= to.as_str());
            assert_eq!(day_of(&period), Some(day), "{hour}");
            shards.insert(period);
        }
        assert!(shards.len() > 1, "case ids spread over shards: {shards:?}");
        let next = NaiveDate::from_ymd_opt(2026, 11, 12).unwrap();
        assert!(day_period(next, &CaseId::from_instant(Utc::now())).as_str() > to.as_str());
        assert_eq!(day_of("2026-11-11"), Some(day));
        assert_eq!(day_of("now"), None);
    }

    #[test]
    fn orders_spread_over_shards_and_keep_theirs() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        let (from, to) = period_bounds(day, day);
        let shards: std::collections::BTreeSet<String> = (0..100)
            .map(|i| day_period_of_key(day, &format!("shopify:s:{i}")))
            .collect();
        assert_eq!(shards.len(), usize::from(COUNTER_SHARDS));
        assert!(shards.iter().all(|p| p >= &from && p <= &to));
        assert_eq!(day_period_of_key(day, "o-1"), day_period_of_key(day, "o-1"));
    }

    #[test]
    fn opening_counts_the_case_its_category_its_skus_and_a_complaint() {
        let case = case(
            "the bottle arrived broken and leaking",
            &["SERUM-30", "CREAM-50", "SERUM-30"],
        );
        let category = case.classification.category;
        assert_eq!(category, Category::DamagedInTransit);
        let changes = case_counter_changes(None, &case);
        assert_eq!(changes.len(), 1, "one item: {changes:?}");
        assert_eq!(
            adds(&changes, CASES, "2026-11-11"),
            counts(&[
                ("opened", 1),
                ("category#damaged_in_transit", 1),
                ("complaints", 1),
                ("cases#CREAM-50", 1),
                ("cases#SERUM-30", 1),
            ])
        );
    }

    #[test]
    fn a_question_is_a_case_but_no_complaint() {
        let case = case("how long does this keep once opened?", &["SERUM-30"]);
        assert_eq!(case.classification.category, Category::Inquiry);
        let opened = adds(&case_counter_changes(None, &case), CASES, "2026-11-11");
        assert_eq!(opened.get("complaints"), None);
        assert_eq!(opened.get("category#inquiry"), Some(&1));
    }

    #[test]
    fn a_resolution_counts_on_its_own_day_with_its_remedy_per_sku() {
        let open = case("leaking bottle", &["SERUM-30", "CREAM-50"]);
        // Opened at 23:00 on the 11th, resolved after midnight: the 12th.
        let refunded = resolved(&open, Remedy::PartialRefund, t(90));
        let changes = case_counter_changes(Some(&open), &refunded);
        assert_eq!(adds(&changes, CASES, "2026-11-11"), BTreeMap::new());
        assert_eq!(
            adds(&changes, CASES, "2026-11-12"),
            counts(&[
                ("resolved", 1),
                ("refunds", 1),
                ("refunds#CREAM-50", 1),
                ("refunds#SERUM-30", 1),
            ])
        );
        let exchanged = resolved(&open, Remedy::Exchange, t(90));
        assert_eq!(
            adds(
                &case_counter_changes(Some(&open), &exchanged),
                CASES,
                "2026-11-12"
            ),
            counts(&[
                ("resolved", 1),
                ("returns", 1),
                ("returns#CREAM-50", 1),
                ("returns#SERUM-30", 1),
            ])
        );
        let consulted = resolved(&open, Remedy::ExpertConsultation, t(90));
        assert_eq!(
            adds(
                &case_counter_changes(Some(&open), &consulted),
                CASES,
                "2026-11-12"
            ),
            counts(&[("resolved", 1)])
        );
    }

    #[test]
    fn reopening_takes_the_case_out_of_its_resolution_day_and_closing_changes_nothing() {
        let open = case("leaking bottle", &["SERUM-30"]);
        let refunded = resolved(&open, Remedy::Refund, t(90));
        let mut closed = refunded.clone();
        closed.status = CaseStatus::Closed;
        assert_eq!(case_counter_changes(Some(&refunded), &closed), vec![]);
        let mut reopened = closed.clone();
        reopened.status = CaseStatus::InProgress;
        reopened.resolution = None;
        assert_eq!(
            adds(
                &case_counter_changes(Some(&closed), &reopened),
                CASES,
                "2026-11-12"
            ),
            counts(&[("resolved", -1), ("refunds", -1), ("refunds#SERUM-30", -1)])
        );
        // A reply changes nothing.
        assert_eq!(case_counter_changes(Some(&open), &open), vec![]);
    }

    #[test]
    fn merging_gives_one_change_per_item_and_drops_zeros() {
        let change = |series: &str, adds: &[(&str, i64)]| CounterChange {
            series: series.into(),
            period: "2026-11-11#1".into(),
            adds: adds.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
        };
        assert_eq!(
            merged([
                change(CASES, &[("opened", 1), ("resolved", 1)]),
                change(CASES, &[("resolved", -1), ("refunds", 2)]),
                change(SALES, &[("orders", 0)]),
            ]),
            vec![change(CASES, &[("opened", 1), ("refunds", 2)])]
        );
    }

    fn order(lines: &[(Option<&str>, u32, Option<&str>)]) -> StoreOrder {
        StoreOrder {
            platform: Platform::Shopify,
            store: "s".into(),
            order_id: "1".into(),
            order_number: None,
            customer_id: Some("c-1".into()),
            customer_email: None,
            customer_locale: None,
            currency: "CNY".parse().unwrap(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (sku, quantity, batch))| StoreOrderLine {
                    line_item_id: i.to_string(),
                    sku: sku.map(str::to_owned),
                    title: "t".into(),
                    quantity: *quantity,
                    unit_price_minor: 100,
                    paid_minor: 100,
                    batch: batch.map(str::to_owned),
                })
                .collect(),
            placed_at: t(90),
            source_updated_at: t(90),
            delivered_at: None,
            opened_exclusion_consented: false,
        }
    }

    #[test]
    fn an_order_counts_once_on_its_day_with_units_per_sku_and_per_batch() {
        let order = order(&[
            (Some("SERUM-30"), 2, Some("B1")),
            (Some("SERUM-30"), 3, Some("B2")),
            (Some("SERUM-30"), 1, Some("B1")),
            (Some("CREAM-50"), 4, None),
            (None, 5, None),
        ]);
        let changes = order_counter_changes(&order, "shopify:s:1");
        assert_eq!(
            adds(&changes, SALES, "2026-11-11"),
            BTreeMap::new(),
            "placed after midnight"
        );
        assert_eq!(
            adds(&changes, SALES, "2026-11-12"),
            counts(&[
                ("orders", 1),
                ("units", 15),
                ("units#SERUM-30", 6),
                ("units#CREAM-50", 4),
            ])
        );
        let lifetime = |batch: &str| {
            changes
                .iter()
                .find(|c| c.series == format!("units-sold#SERUM-30#{batch}"))
                .map(|c| (c.period.clone(), c.adds.clone()))
        };
        assert_eq!(
            lifetime("B1"),
            Some((ALL_TIME.into(), vec![("units".into(), 3)]))
        );
        assert_eq!(
            lifetime("B2"),
            Some((ALL_TIME.into(), vec![("units".into(), 3)]))
        );
        assert_eq!(
            changes.len(),
            3,
            "the day item and two batches: {changes:?}"
        );
    }

    #[test]
    fn the_lifetime_series_names_sku_and_batch() {
        let sku = Sku::parse("SERUM-30").unwrap();
        let batch = BatchNo::parse("B-2026-11").unwrap();
        assert_eq!(
            units_sold_series(&sku, &batch),
            "units-sold#SERUM-30#B-2026-11"
        );
    }

    #[test]
    fn days_sum_their_shards() {
        let items = vec![
            ("2026-11-11#0".to_owned(), counts(&[("opened", 2)])),
            (
                "2026-11-11#5".to_owned(),
                counts(&[("opened", 3), ("resolved", 1)]),
            ),
            ("2026-11-12#5".to_owned(), counts(&[("opened", 1)])),
            ("now".to_owned(), counts(&[("opened", 9)])),
        ];
        let days = per_day(&items);
        assert_eq!(days.len(), 2);
        assert_eq!(
            days[&NaiveDate::from_ymd_opt(2026, 11, 11).unwrap()],
            counts(&[("opened", 5), ("resolved", 1)])
        );
    }
}
