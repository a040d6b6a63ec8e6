//! Remedy matching: given what a complaint is about, the order and the product, which remedies
//! the customer is eligible for and why, whether photo evidence is required, and which remedy to
//! suggest.
//!
//! Pure rules, no I/O and no clock: the caller passes `now`. The rules follow China's Consumer
//! Rights Protection Law art. 25 (the 7-day no-reason return) and cosmetics practice:
//!
//! - The no-reason return runs through the 7th local day after the day of delivery, for goods
//!   that are unopened, or opened when the customer did not confirm at purchase that opened
//!   cosmetics are excluded.
//! - Quality claims are separate: opened or not, beyond 7 days, while within shelf life.
//! - Goods already past shelf life at delivery get a full refund, whatever the complaint says.
//! - An adverse reaction always gets an expert consultation; the seller answers for it, so the
//!   customer is never sent to the manufacturer.
//!
//! Days are counted in the consumer's local calendar (`RemedyRequest::local_offset`, China
//! Standard Time by default): a parcel delivered at 01:00 Beijing time was delivered "today"
//! in Beijing though it is still yesterday in UTC.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Months, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::complaint::{Category, Severity};

/// China Standard Time, UTC+8: the calendar the consumer counts days in.
pub const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// Days of the no-reason return, counted from the day after delivery.
pub const NO_REASON_RETURN_DAYS: i64 = 7;

/// Goods delivered with this many days of shelf life left, or fewer, were near expiry.
pub const NEAR_EXPIRY_DAYS: i64 = 30;

/// What can be done for the customer. The declaration order is the order remedies are listed in
/// after the suggested one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Money back for the claimed lines.
    Refund,
    /// Reship the same product.
    Replacement,
    /// Another product or shade.
    Exchange,
    /// Partial refund or compensation; the customer keeps the goods.
    PartialRefund,
    /// A skincare expert follows up: care after a reaction, skin-type advice, authenticity.
    ExpertConsultation,
}

impl Remedy {
    /// Money or goods change hands; everything but the consultation.
    fn is_money_or_goods(self) -> bool {
        !matches!(self, Remedy::ExpertConsultation)
    }
}

/// What the catalogue and the batch say about a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductTerms {
    /// Months from manufacture to expiry, unopened.
    pub shelf_life_months: u32,
    /// Period after opening. Not used by the rules: the day of opening is never known, so the
    /// shelf life is what decides a claim.
    #[serde(default)]
    pub pao_months: Option<u32>,
    /// From the batch; `None` when the batch is unknown.
    #[serde(default)]
    pub manufactured_on: Option<NaiveDate>,
}

/// One order line the complaint is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimedLine {
    pub sku: String,
    pub quantity: u32,
    /// Paid for these units, in integer minor units of the request's currency.
    pub paid_minor: i64,
    /// `None` when the product is not in the catalogue.
    #[serde(default)]
    pub product: Option<ProductTerms>,
}

/// Everything remedy matching looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemedyRequest {
    pub category: Category,
    pub severity: Severity,
    /// `None`: not delivered yet (or no delivery recorded).
    #[serde(default)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
    /// `None`: not known; treated as unopened.
    #[serde(default)]
    pub opened: Option<bool>,
    /// The order records that the customer confirmed at purchase that opened cosmetics are
    /// excluded from the no-reason return. Without it, opening does not void the return.
    #[serde(default)]
    pub opened_exclusion_consented: bool,
    #[serde(default)]
    pub lines: Vec<ClaimedLine>,
    pub currency: String,
    /// The consumer's calendar, as an offset such as `"+08:00"`.
    #[serde(default = "china_standard_time", with = "offset_text")]
    pub local_offset: FixedOffset,
}

/// A remedy the customer may have, with the sentence an agent can read out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibleRemedy {
    pub remedy: Remedy,
    pub reason: String,
    /// For [`Remedy::Refund`]: what was paid for the claimed lines. The amount of a partial
    /// refund is agreed with the customer, so it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
}

/// A remedy the customer may ask for but does not have, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedRemedy {
    pub remedy: Remedy,
    pub reason: String,
}

/// The outcome of matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemedyDecision {
    /// The suggested remedy first, then the others in [`Remedy`] order; no duplicates.
    pub eligible: Vec<EligibleRemedy>,
    /// Always one of `eligible` when set.
    pub suggested: Option<Remedy>,
    pub photo_required: bool,
    /// In [`Remedy`] order; never a remedy that is also eligible.
    pub refused: Vec<RefusedRemedy>,
}

/// [`CHINA_STANDARD_TIME`], as a function for serde's `default`.
pub fn china_standard_time() -> FixedOffset {
    CHINA_STANDARD_TIME
}

/// Whether goods delivered at `delivered_at` can still be returned without a reason at `now`:
/// through local day D+7 for a delivery on local day D.
pub fn no_reason_return_open(
    delivered_at: DateTime<Utc>,
    now: DateTime<Utc>,
    offset: FixedOffset,
) -> bool {
    // Only the end of the window is checked: a delivery stamped a little after `now` (clock
    // skew between systems) is still a delivery.
    local_day(now, offset) <= no_reason_return_last_day(delivered_at, offset)
}

/// The last local day of the no-reason return for a delivery at `delivered_at`.
pub fn no_reason_return_last_day(delivered_at: DateTime<Utc>, offset: FixedOffset) -> NaiveDate {
    add_days(local_day(delivered_at, offset), NO_REASON_RETURN_DAYS)
}

/// The expiry date of a batch: calendar months after manufacture, a day that does not exist in
/// the target month rolling back to its last day (Jan 31 + 1 month = Feb 28, or 29). The expiry
/// day itself is within shelf life.
pub fn expiry_date(manufactured_on: NaiveDate, shelf_life_months: u32) -> NaiveDate {
    manufactured_on
        .checked_add_months(Months::new(shelf_life_months))
        // Beyond chrono's calendar: as good as never expiring.
        .unwrap_or(NaiveDate::MAX)
}

/// Match `request` to the remedies its customer is eligible for.
pub fn match_remedies(request: &RemedyRequest) -> RemedyDecision {
    let facts = Facts::new(request);
    let mut outcome = Outcome::default();
    if let Some(expired_on) = facts.expired_at_delivery() {
        expired_at_delivery(&facts, expired_on, &mut outcome);
    } else {
        match request.category {
            Category::NotAsExpected => no_reason_return(&facts, &mut outcome),
            Category::Inquiry => {
                outcome.allow(
                    Remedy::ExpertConsultation,
                    consultation_reason(&facts),
                    None,
                );
                outcome.suggest(Remedy::ExpertConsultation);
            }
            Category::ExpiredOrNearExpiry => expiry_claim(&facts, &mut outcome),
            Category::AdverseReaction
            | Category::CounterfeitSuspected
            | Category::QualityDefect
            | Category::DamagedInTransit
            | Category::WrongItem
            | Category::MissingItem => shelf_life_claim(&facts, &mut outcome),
        }
    }
    outcome.finish(request.category.needs_photo())
}

/// What a category offers when its claim stands, the suggested remedy first.
fn offer(category: Category) -> &'static [Remedy] {
    use Remedy::*;
    match category {
        Category::DamagedInTransit => &[Replacement, Refund, PartialRefund],
        Category::QualityDefect => &[Replacement, Refund, Exchange, PartialRefund],
        Category::AdverseReaction => &[Refund, ExpertConsultation],
        Category::ExpiredOrNearExpiry => &[Refund, Replacement],
        Category::WrongItem => &[Exchange, Refund],
        Category::MissingItem => &[Replacement, Refund],
        Category::CounterfeitSuspected => &[ExpertConsultation, Refund],
        Category::NotAsExpected => &[Refund, Exchange, ExpertConsultation],
        Category::Inquiry => &[ExpertConsultation],
    }
}

/// The facts every rule reads, computed once in the consumer's calendar.
struct Facts<'a> {
    request: &'a RemedyRequest,
    today: NaiveDate,
    delivered_on: Option<NaiveDate>,
    /// The earliest expiry among lines with known product and batch; `None` when no line has
    /// both. The earliest decides: a claim stands only if every checkable line is within shelf
    /// life (simple and predictable; the agent can split a mixed order into two claims).
    expires_on: Option<NaiveDate>,
    /// Paid for the claimed lines.
    amount_minor: i64,
}

impl<'a> Facts<'a> {
    fn new(request: &'a RemedyRequest) -> Self {
        let offset = request.local_offset;
        let expires_on = request
            .lines
            .iter()
            .filter_map(|line| {
                let terms = line.product.as_ref()?;
                Some(expiry_date(terms.manufactured_on?, terms.shelf_life_months))
            })
            .min();
        let amount_minor = request
            .lines
            .iter()
            // A negative line is bad data, not a debt of the customer's.
            .map(|line| line.paid_minor.max(0))
            .fold(0i64, i64::saturating_add);
        Facts {
            request,
            today: local_day(request.now, offset),
            delivered_on: request.delivered_at.map(|at| local_day(at, offset)),
            expires_on,
            amount_minor,
        }
    }

    /// The day the goods' state at delivery is judged on. Without a recorded delivery, today:
    /// the goods cannot reach the customer any fresher than they are now.
    fn delivery_reference(&self) -> NaiveDate {
        self.delivered_on.unwrap_or(self.today)
    }

    /// The expiry date when the goods were past it at delivery.
    fn expired_at_delivery(&self) -> Option<NaiveDate> {
        self.expires_on
            .filter(|&expires_on| self.delivery_reference() > expires_on)
    }

    /// Whole days of shelf life left at delivery (0 on the expiry day).
    fn days_left_at_delivery(&self, expires_on: NaiveDate) -> i64 {
        (expires_on - self.delivery_reference()).num_days()
    }

    fn shelf_life_now(&self) -> ShelfLife {
        match self.expires_on {
            None => ShelfLife::Unknown,
            Some(expires_on) if self.today <= expires_on => ShelfLife::Within(expires_on),
            Some(expires_on) => ShelfLife::Past(expires_on),
        }
    }

    /// The sentence that says why a quality claim stands.
    fn standing_note(&self) -> String {
        let mut note = match self.shelf_life_now() {
            ShelfLife::Unknown => "The shelf life could not be checked (product or batch \
                                   unknown), so the customer gets the benefit of the doubt."
                .to_string(),
            ShelfLife::Within(expires_on) => {
                format!("Within shelf life (expires {expires_on}).")
            }
            // Callers note a claim only while it stands.
            ShelfLife::Past(expires_on) => format!("Expired on {expires_on}."),
        };
        let window_closed = self.request.delivered_at.is_some_and(|at| {
            !no_reason_return_open(at, self.request.now, self.request.local_offset)
        });
        if self.request.category.is_quality_claim() && window_closed {
            note.push_str(
                " The 7-day limit of the no-reason return does not apply to quality claims.",
            );
        }
        note
    }

    fn delivered_phrase(&self) -> String {
        match self.delivered_on {
            Some(day) => format!("Delivered {day}"),
            None => "No delivery is recorded".to_string(),
        }
    }
}

enum ShelfLife {
    Unknown,
    Within(NaiveDate),
    Past(NaiveDate),
}

/// Goods already past shelf life when delivered: a full refund whatever the complaint was filed
/// as, since selling expired cosmetics is the seller's fault. A fresh batch is not offered
/// instead; the customer has the money and can reorder.
fn expired_at_delivery(facts: &Facts, expired_on: NaiveDate, outcome: &mut Outcome) {
    let reason = match facts.delivered_on {
        Some(day) => format!(
            "Delivered {day}, but the batch expired on {expired_on}: the goods were sold past \
             their shelf life, so the customer gets a full refund."
        ),
        None => format!(
            "No delivery is recorded and the batch expired on {expired_on}: the goods cannot \
             arrive within their shelf life, so the customer gets a full refund."
        ),
    };
    outcome.allow_refund(facts, reason);
    outcome.suggest(Remedy::Refund);
    for &remedy in offer(facts.request.category) {
        if remedy.is_money_or_goods() {
            outcome.refuse(
                remedy,
                format!(
                    "The goods were past their shelf life at delivery (expired {expired_on}): \
                     the full refund settles the claim."
                ),
            );
        }
    }
    outcome.allow(Remedy::ExpertConsultation, consultation_reason(facts), None);
}

/// Damaged, defective, wrong, missing, adverse reaction, suspected counterfeit: the category's
/// offer while within shelf life (or when it cannot be checked), else the consultation only.
fn shelf_life_claim(facts: &Facts, outcome: &mut Outcome) {
    let category = facts.request.category;
    match facts.shelf_life_now() {
        ShelfLife::Past(expires_on) => {
            for &remedy in offer(category) {
                if remedy.is_money_or_goods() {
                    outcome.refuse(
                        remedy,
                        format!(
                            "Past shelf life: the batch expired on {expires_on}, before the \
                             claim on {}, so {} is not available.",
                            facts.today,
                            remedy_noun(remedy)
                        ),
                    );
                }
            }
            outcome.allow(Remedy::ExpertConsultation, consultation_reason(facts), None);
            outcome.suggest(Remedy::ExpertConsultation);
        }
        ShelfLife::Within(_) | ShelfLife::Unknown => {
            let note = facts.standing_note();
            for &remedy in offer(category) {
                if remedy == Remedy::ExpertConsultation {
                    outcome.allow(remedy, consultation_reason(facts), None);
                    continue;
                }
                let lead = claim_lead(category, remedy);
                let reason = format!("{lead} {note}");
                if remedy == Remedy::Refund {
                    outcome.allow_refund(facts, reason);
                } else {
                    outcome.allow(remedy, reason, None);
                }
            }
            outcome.suggest(offer(category)[0]);
        }
    }
}

/// What a standing claim of `category` offers with `remedy`, as the start of the reason.
fn claim_lead(category: Category, remedy: Remedy) -> &'static str {
    use Remedy::*;
    match (category, remedy) {
        (Category::DamagedInTransit, Replacement) => {
            "Arrived damaged: the same product is reshipped at the shop's cost."
        }
        (Category::DamagedInTransit, Refund) => {
            "Arrived damaged: a full refund of the claimed items is available."
        }
        (Category::DamagedInTransit, PartialRefund) => {
            "Arrived damaged: if the customer keeps the goods, a partial refund or compensation."
        }
        (Category::QualityDefect, Replacement) => {
            "Product defect, opened or not: the same product is sent again from sound stock."
        }
        (Category::QualityDefect, Refund) => {
            "Product defect, opened or not: a full refund of the claimed items is available."
        }
        (Category::QualityDefect, Exchange) => {
            "Product defect, opened or not: an exchange for another product or shade."
        }
        (Category::QualityDefect, PartialRefund) => {
            "Product defect: if the customer keeps the goods, a partial refund or compensation."
        }
        (Category::AdverseReaction, Refund) => {
            "Skin reaction: a full refund, opened or not. The shop answers for it; the customer \
             is not referred to the manufacturer."
        }
        (Category::WrongItem, Exchange) => {
            "Wrong item sent: the shop sends what was ordered and collects the wrong item at its \
             cost."
        }
        (Category::WrongItem, Refund) => {
            "Wrong item sent: a full refund of the claimed items if the customer prefers."
        }
        (Category::MissingItem, Replacement) => "Item missing from the parcel: it is reshipped.",
        (Category::MissingItem, Refund) => {
            "Item missing from the parcel: a refund of the missing items."
        }
        (Category::CounterfeitSuspected, Refund) => {
            "Suspected counterfeit: a full refund of the claimed items is available."
        }
        (Category::ExpiredOrNearExpiry, Refund) => "A full refund of the claimed items.",
        (Category::ExpiredOrNearExpiry, Replacement) => "A replacement from a fresh batch.",
        // `offer` lists no other pair.
        _ => "This remedy is available.",
    }
}

/// Expired or near expiry, when the goods were not already expired at delivery.
fn expiry_claim(facts: &Facts, outcome: &mut Outcome) {
    let delivered = facts.delivered_phrase();
    let (why, refusal) = match facts.expires_on {
        None => (facts.standing_note(), None),
        Some(expires_on) => {
            let left = facts.days_left_at_delivery(expires_on);
            let left_text = day_count(left);
            let past_now = matches!(facts.shelf_life_now(), ShelfLife::Past(_));
            // Goods delivered near expiry may pass the date before the customer notices: the
            // claim stands past the date while the 7-day window after delivery runs, the time
            // the law gives to inspect goods. Later, the general past-shelf-life rule applies.
            let noticed_in_time = facts.request.delivered_at.is_some_and(|at| {
                no_reason_return_open(at, facts.request.now, facts.request.local_offset)
            });
            let why = format!(
                "{delivered} with {left_text} of shelf life left (expires {expires_on}): near \
                 expiry at delivery."
            );
            let refusal = if left > NEAR_EXPIRY_DAYS && past_now {
                Some(format!(
                    "{delivered} with {left_text} of shelf life left; it expired on \
                     {expires_on} in the customer's hands, which is not a quality claim."
                ))
            } else if left > NEAR_EXPIRY_DAYS {
                Some(format!(
                    "{delivered} with {left_text} of shelf life left (expires {expires_on}): \
                     neither expired nor near expiry at delivery."
                ))
            } else if past_now && !noticed_in_time {
                Some(format!(
                    "{delivered} with {left_text} of shelf life left, but the claim came on {} \
                     after it expired on {expires_on} and after the 7 days following delivery: \
                     too late for a near-expiry claim.",
                    facts.today
                ))
            } else {
                None
            };
            let why = if past_now && refusal.is_none() {
                format!("{why} The claim came within 7 days of delivery, so it stands.")
            } else {
                why
            };
            (why, refusal)
        }
    };
    match refusal {
        Some(reason) => {
            outcome.refuse(Remedy::Refund, reason.clone());
            outcome.refuse(Remedy::Replacement, reason);
            outcome.allow(Remedy::ExpertConsultation, consultation_reason(facts), None);
            outcome.suggest(Remedy::ExpertConsultation);
        }
        None => {
            let lead = |remedy| claim_lead(Category::ExpiredOrNearExpiry, remedy);
            outcome.allow_refund(facts, format!("{why} {}", lead(Remedy::Refund)));
            outcome.allow(
                Remedy::Replacement,
                format!("{why} {}", lead(Remedy::Replacement)),
                None,
            );
            outcome.suggest(Remedy::Refund);
        }
    }
}

/// Not as expected: the 7-day no-reason return (refund or exchange) and skin-type advice.
fn no_reason_return(facts: &Facts, outcome: &mut Outcome) {
    let request = facts.request;
    let refusal = match request.delivered_at {
        None => Some(
            "Not delivered yet: the 7-day no-reason return starts the day after delivery. \
             The customer can cancel the order in the storefront instead."
                .to_string(),
        ),
        Some(at) if !no_reason_return_open(at, request.now, request.local_offset) => Some(format!(
            "{}: the 7-day no-reason return ran until {}.",
            facts.delivered_phrase(),
            no_reason_return_last_day(at, request.local_offset)
        )),
        Some(_) if request.opened == Some(true) && request.opened_exclusion_consented => Some(
            "Opened, and the customer confirmed at purchase that opened cosmetics are excluded \
             from the no-reason return."
                .to_string(),
        ),
        Some(_) => None,
    };
    match (refusal, request.delivered_at) {
        (None, Some(at)) => {
            let until = no_reason_return_last_day(at, request.local_offset);
            let state = match request.opened {
                Some(false) => "unopened",
                None => "not recorded as opened, so treated as unopened",
                Some(true) => {
                    "opened, but the customer did not confirm at purchase that opened goods are \
                     excluded, so the return still applies"
                }
            };
            let window = format!(
                "{}: within the 7-day no-reason return (until {until}); the goods are {state}.",
                facts.delivered_phrase()
            );
            outcome.allow_refund(
                facts,
                format!("{window} Full refund on return of the goods."),
            );
            outcome.allow(
                Remedy::Exchange,
                format!("{window} The customer may exchange for another product or shade."),
                None,
            );
            outcome.allow(Remedy::ExpertConsultation, consultation_reason(facts), None);
            outcome.suggest(Remedy::Refund);
        }
        (refusal, _) => {
            let reason = refusal.unwrap_or_default();
            outcome.refuse(Remedy::Refund, reason.clone());
            outcome.refuse(Remedy::Exchange, reason);
            outcome.allow(Remedy::ExpertConsultation, consultation_reason(facts), None);
            outcome.suggest(Remedy::ExpertConsultation);
        }
    }
}

/// Why the expert consultation is offered, for the request's category and state.
fn consultation_reason(facts: &Facts) -> String {
    let request = facts.request;
    match request.category {
        Category::AdverseReaction => {
            let mut reason = match request.severity {
                Severity::Urgent => "Urgent: the customer should stop using the product and seek \
                                     medical care now; a skincare expert follows up on the \
                                     reaction."
                    .to_string(),
                Severity::Normal => "Skin reaction: the customer should stop using the product; \
                                     a skincare expert follows up on the reaction and its care."
                    .to_string(),
            };
            if facts.expired_at_delivery().is_some()
                || matches!(facts.shelf_life_now(), ShelfLife::Past(_))
            {
                reason.push_str(
                    " The consultation stays although the product is past its shelf life: the \
                     reaction still needs care.",
                );
            }
            reason
        }
        Category::CounterfeitSuspected => "Suspected counterfeit: an expert checks authenticity \
                                           against the batch code and packaging; photos of both \
                                           help."
            .to_string(),
        Category::NotAsExpected => "Skin-type and usage advice from an expert: the product may \
                                    suit with a different routine, or the expert can recommend \
                                    another."
            .to_string(),
        Category::Inquiry => "A question: a skincare expert answers it.".to_string(),
        Category::ExpiredOrNearExpiry => "An expert can explain the shelf life and the period \
                                          after opening; expired cosmetics should not be used."
            .to_string(),
        // Offered for these only once the goods are past their shelf life.
        Category::QualityDefect
        | Category::DamagedInTransit
        | Category::WrongItem
        | Category::MissingItem => "An expert can advise the customer: expired cosmetics \
                                    should not be used, and what to use instead."
            .to_string(),
    }
}

fn day_count(days: i64) -> String {
    if days == 1 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

fn remedy_noun(remedy: Remedy) -> &'static str {
    match remedy {
        Remedy::Refund => "a refund",
        Remedy::Replacement => "a replacement",
        Remedy::Exchange => "an exchange",
        Remedy::PartialRefund => "a partial refund",
        Remedy::ExpertConsultation => "a consultation",
    }
}

/// Collects the rules' findings; `finish` gives them the decision's order.
#[derive(Default)]
struct Outcome {
    eligible: BTreeMap<Remedy, EligibleRemedy>,
    refused: BTreeMap<Remedy, RefusedRemedy>,
    suggested: Option<Remedy>,
}

impl Outcome {
    /// The first reason given for a remedy wins: rules add the most specific one first.
    fn allow(&mut self, remedy: Remedy, reason: String, amount_minor: Option<i64>) {
        self.eligible.entry(remedy).or_insert(EligibleRemedy {
            remedy,
            reason,
            amount_minor,
        });
    }

    fn allow_refund(&mut self, facts: &Facts, reason: String) {
        self.allow(Remedy::Refund, reason, Some(facts.amount_minor));
    }

    fn refuse(&mut self, remedy: Remedy, reason: String) {
        self.refused
            .entry(remedy)
            .or_insert(RefusedRemedy { remedy, reason });
    }

    fn suggest(&mut self, remedy: Remedy) {
        self.suggested = Some(remedy);
    }

    fn finish(mut self, photo_required: bool) -> RemedyDecision {
        // A remedy is either eligible or refused, never both; eligibility wins.
        self.refused
            .retain(|remedy, _| !self.eligible.contains_key(remedy));
        let suggested = self
            .suggested
            .filter(|remedy| self.eligible.contains_key(remedy));
        debug_assert_eq!(suggested, self.suggested, "suggested an ineligible remedy");
        let mut eligible = Vec::with_capacity(self.eligible.len());
        if let Some(first) = suggested.and_then(|remedy| self.eligible.remove(&remedy)) {
            eligible.push(first);
        }
        eligible.extend(self.eligible.into_values());
        RemedyDecision {
            eligible,
            suggested,
            photo_required,
            refused: self.refused.into_values().collect(),
        }
    }
}

fn local_day(at: DateTime<Utc>, offset: FixedOffset) -> NaiveDate {
    at.with_timezone(&offset).date_naive()
}

fn add_days(day: NaiveDate, days: i64) -> NaiveDate {
    day.checked_add_signed(TimeDelta::days(days))
        .unwrap_or(NaiveDate::MAX)
}

/// `FixedOffset` has no serde support; it travels as `"+08:00"`.
mod offset_text {
    use chrono::FixedOffset;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        offset: &FixedOffset,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(offset)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<FixedOffset, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("`{text}` is not a UTC offset such as +08:00")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn line(sku: &str, paid_minor: i64, product: Option<ProductTerms>) -> ClaimedLine {
        ClaimedLine {
            sku: sku.to_string(),
            quantity: 1,
            paid_minor,
            product,
        }
    }

    /// Made 2026-06-01, 36 months: expires 2029-06-01, far from the dates below.
    fn fresh_terms() -> Option<ProductTerms> {
        terms("2026-06-01", 36)
    }

    fn terms(manufactured_on: &str, shelf_life_months: u32) -> Option<ProductTerms> {
        Some(ProductTerms {
            shelf_life_months,
            pao_months: Some(12),
            manufactured_on: Some(day(manufactured_on)),
        })
    }

    /// Delivered 2026-11-03 10:00 Beijing time, claimed the next day, one fresh line of 129.00.
    fn request(category: Category) -> RemedyRequest {
        RemedyRequest {
            category,
            severity: Severity::Normal,
            delivered_at: Some(at("2026-11-03T02:00:00Z")),
            now: at("2026-11-04T02:00:00Z"),
            opened: None,
            opened_exclusion_consented: false,
            lines: vec![line("SERUM-30ML", 12_900, fresh_terms())],
            currency: "CNY".to_string(),
            local_offset: CHINA_STANDARD_TIME,
        }
    }

    fn eligible(decision: &RemedyDecision) -> Vec<Remedy> {
        decision.eligible.iter().map(|e| e.remedy).collect()
    }

    fn refused(decision: &RemedyDecision) -> Vec<Remedy> {
        decision.refused.iter().map(|r| r.remedy).collect()
    }

    fn eligible_reason(decision: &RemedyDecision, remedy: Remedy) -> &str {
        &decision
            .eligible
            .iter()
            .find(|e| e.remedy == remedy)
            .unwrap_or_else(|| panic!("{remedy:?} not eligible: {decision:#?}"))
            .reason
    }

    fn refused_reason(decision: &RemedyDecision, remedy: Remedy) -> &str {
        &decision
            .refused
            .iter()
            .find(|r| r.remedy == remedy)
            .unwrap_or_else(|| panic!("{remedy:?} not refused: {decision:#?}"))
            .reason
    }

    /// The structural promises of every decision.
    fn assert_well_formed(decision: &RemedyDecision) {
        let remedies = eligible(decision);
        if let Some(suggested) = decision.suggested {
            assert_eq!(remedies.first(), Some(&suggested), "{decision:#?}");
        }
        let rest = if decision.suggested.is_some() {
            &remedies[1..]
        } else {
            &remedies[..]
        };
        assert!(rest.windows(2).all(|w| w[0] < w[1]), "{decision:#?}");
        assert!(!rest.contains(&remedies[0]) || decision.suggested.is_none());
        let refused = refused(decision);
        assert!(refused.windows(2).all(|w| w[0] < w[1]), "{decision:#?}");
        assert!(
            refused.iter().all(|r| !remedies.contains(r)),
            "{decision:#?}"
        );
        for e in &decision.eligible {
            assert!(!e.reason.is_empty());
            assert_eq!(e.amount_minor.is_some(), e.remedy == Remedy::Refund);
        }
    }

    // --- The 7-day no-reason return ---

    #[test]
    fn china_standard_time_is_utc_plus_eight() {
        assert_eq!(CHINA_STANDARD_TIME.local_minus_utc(), 8 * 3600);
        assert_eq!(china_standard_time(), CHINA_STANDARD_TIME);
        assert_eq!(NO_REASON_RETURN_DAYS, 7);
    }

    #[test]
    fn no_reason_return_is_open_on_day_7_and_closed_on_day_8() {
        // Delivered on local 2026-11-03: day 7 is 11-10, day 8 is 11-11 (local midnight is
        // 16:00 UTC the day before).
        let delivered = at("2026-11-03T02:00:00Z");
        let last_moment_of_day_7 = at("2026-11-10T15:59:59Z");
        let first_moment_of_day_8 = at("2026-11-10T16:00:00Z");
        assert!(no_reason_return_open(
            delivered,
            last_moment_of_day_7,
            CHINA_STANDARD_TIME
        ));
        assert!(!no_reason_return_open(
            delivered,
            first_moment_of_day_8,
            CHINA_STANDARD_TIME
        ));
        assert_eq!(
            no_reason_return_last_day(delivered, CHINA_STANDARD_TIME),
            day("2026-11-10")
        );

        let mut day_7 = request(Category::NotAsExpected);
        day_7.now = last_moment_of_day_7;
        let decision = match_remedies(&day_7);
        assert_eq!(decision.suggested, Some(Remedy::Refund));
        assert_eq!(
            eligible(&decision),
            [Remedy::Refund, Remedy::Exchange, Remedy::ExpertConsultation]
        );
        assert!(eligible_reason(&decision, Remedy::Refund).contains("until 2026-11-10"));
        assert_well_formed(&decision);

        let mut day_8 = request(Category::NotAsExpected);
        day_8.now = first_moment_of_day_8;
        let decision = match_remedies(&day_8);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        assert_eq!(refused(&decision), [Remedy::Refund, Remedy::Exchange]);
        assert_eq!(
            refused_reason(&decision, Remedy::Refund),
            "Delivered 2026-11-03: the 7-day no-reason return ran until 2026-11-10."
        );
        assert_well_formed(&decision);
    }

    #[test]
    fn a_utc_evening_delivery_is_the_next_local_day_and_shifts_the_window() {
        // 2026-11-03T17:00Z is 2026-11-04 01:00 in Beijing: day 7 is 11-11, not 11-10.
        let delivered = at("2026-11-03T17:00:00Z");
        let local_11_11_noon = at("2026-11-11T04:00:00Z");
        assert!(no_reason_return_open(
            delivered,
            local_11_11_noon,
            CHINA_STANDARD_TIME
        ));
        // Counted in UTC the same moments would already be closed: the offset matters.
        assert!(!no_reason_return_open(
            delivered,
            local_11_11_noon,
            FixedOffset::east_opt(0).unwrap()
        ));
        assert!(!no_reason_return_open(
            delivered,
            at("2026-11-11T16:00:00Z"), // local 11-12 00:00, day 8
            CHINA_STANDARD_TIME
        ));

        let mut claim = request(Category::NotAsExpected);
        claim.delivered_at = Some(delivered);
        claim.now = local_11_11_noon;
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::Refund));
        assert!(eligible_reason(&decision, Remedy::Refund).contains("Delivered 2026-11-04"));
        assert!(eligible_reason(&decision, Remedy::Refund).contains("until 2026-11-11"));

        claim.local_offset = FixedOffset::east_opt(0).unwrap();
        let decision = match_remedies(&claim);
        assert_eq!(
            refused_reason(&decision, Remedy::Refund),
            "Delivered 2026-11-03: the 7-day no-reason return ran until 2026-11-10."
        );
    }

    #[test]
    fn delivery_at_local_23_59_and_00_01_fall_on_different_days() {
        let at_23_59 = at("2026-11-03T15:59:00Z"); // local 2026-11-03 23:59
        let at_00_01 = at("2026-11-03T16:01:00Z"); // local 2026-11-04 00:01
        assert_eq!(
            no_reason_return_last_day(at_23_59, CHINA_STANDARD_TIME),
            day("2026-11-10")
        );
        assert_eq!(
            no_reason_return_last_day(at_00_01, CHINA_STANDARD_TIME),
            day("2026-11-11")
        );
        let local_11_11_noon = at("2026-11-11T04:00:00Z");
        assert!(!no_reason_return_open(
            at_23_59,
            local_11_11_noon,
            CHINA_STANDARD_TIME
        ));
        assert!(no_reason_return_open(
            at_00_01,
            local_11_11_noon,
            CHINA_STANDARD_TIME
        ));
    }

    #[test]
    fn opened_goods_are_excluded_only_with_recorded_consent() {
        let with = |opened: Option<bool>, consented: bool| {
            let mut claim = request(Category::NotAsExpected);
            claim.opened = opened;
            claim.opened_exclusion_consented = consented;
            match_remedies(&claim)
        };

        let consented = with(Some(true), true);
        assert_eq!(consented.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(refused(&consented), [Remedy::Refund, Remedy::Exchange]);
        assert!(refused_reason(&consented, Remedy::Refund).contains("confirmed at purchase"));
        assert_well_formed(&consented);

        let no_consent = with(Some(true), false);
        assert_eq!(no_consent.suggested, Some(Remedy::Refund));
        assert!(
            eligible_reason(&no_consent, Remedy::Refund).contains("did not confirm at purchase")
        );

        let unknown = with(None, true);
        assert_eq!(unknown.suggested, Some(Remedy::Refund));
        assert!(eligible_reason(&unknown, Remedy::Refund).contains("treated as unopened"));

        let unopened = with(Some(false), true);
        assert_eq!(unopened.suggested, Some(Remedy::Refund));
        assert!(eligible_reason(&unopened, Remedy::Refund).contains("unopened"));
    }

    #[test]
    fn not_delivered_has_no_no_reason_return_yet() {
        let mut claim = request(Category::NotAsExpected);
        claim.delivered_at = None;
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        let reason = refused_reason(&decision, Remedy::Refund);
        assert!(reason.contains("Not delivered yet"), "{reason}");
        assert!(reason.contains("cancel"), "{reason}");
        assert_well_formed(&decision);
    }

    // --- Quality claims and shelf life ---

    #[test]
    fn a_quality_claim_on_day_30_stands_though_opened_with_consent() {
        for category in [
            Category::DamagedInTransit,
            Category::QualityDefect,
            Category::AdverseReaction,
        ] {
            let mut claim = request(category);
            claim.now = at("2026-12-03T02:00:00Z"); // local day 30 after delivery
            claim.opened = Some(true);
            claim.opened_exclusion_consented = true;
            let decision = match_remedies(&claim);
            assert!(decision.refused.is_empty(), "{decision:#?}");
            assert!(eligible(&decision).contains(&Remedy::Refund));
            let reason = eligible_reason(&decision, Remedy::Refund);
            assert!(reason.contains("expires 2029-06-01"), "{reason}");
            assert!(reason.contains("7-day limit"), "{reason}");
            assert_well_formed(&decision);
        }
    }

    #[test]
    fn the_expiry_day_is_within_shelf_life_and_the_day_after_is_not() {
        // Made 2025-11-20 with 12 months: expires 2026-11-20 (local calendar).
        let mut claim = request(Category::QualityDefect);
        claim.lines = vec![line("CREAM-50ML", 25_800, terms("2025-11-20", 12))];
        claim.delivered_at = Some(at("2026-09-01T02:00:00Z"));

        claim.now = at("2026-11-20T15:59:59Z"); // local 11-20 23:59:59
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::Replacement));
        assert_eq!(
            eligible(&decision),
            [
                Remedy::Replacement,
                Remedy::Refund,
                Remedy::Exchange,
                Remedy::PartialRefund
            ]
        );
        assert!(eligible_reason(&decision, Remedy::Refund).contains("expires 2026-11-20"));

        claim.now = at("2026-11-20T16:00:00Z"); // local 11-21 00:00, though UTC is still 11-20
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        assert_eq!(
            refused(&decision),
            [
                Remedy::Refund,
                Remedy::Replacement,
                Remedy::Exchange,
                Remedy::PartialRefund
            ]
        );
        assert_eq!(
            refused_reason(&decision, Remedy::Replacement),
            "Past shelf life: the batch expired on 2026-11-20, before the claim on 2026-11-21, \
             so a replacement is not available."
        );
        assert_well_formed(&decision);
    }

    #[test]
    fn expiry_dates_add_calendar_months() {
        assert_eq!(expiry_date(day("2026-01-31"), 1), day("2026-02-28"));
        assert_eq!(expiry_date(day("2028-01-31"), 1), day("2028-02-29")); // leap year
        assert_eq!(expiry_date(day("2028-02-29"), 12), day("2029-02-28"));
        assert_eq!(expiry_date(day("2028-02-29"), 48), day("2032-02-29"));
        assert_eq!(expiry_date(day("2026-05-31"), 1), day("2026-06-30"));
        assert_eq!(expiry_date(day("2026-06-30"), 1), day("2026-07-30"));
        assert_eq!(expiry_date(day("2026-03-15"), 36), day("2029-03-15"));
        assert_eq!(expiry_date(day("2026-03-15"), 0), day("2026-03-15"));
        assert_eq!(expiry_date(day("2026-03-15"), u32::MAX), NaiveDate::MAX);
    }

    #[test]
    fn every_checkable_line_must_be_within_shelf_life() {
        let mut claim = request(Category::DamagedInTransit);
        claim.now = at("2026-12-03T02:00:00Z");
        claim.lines = vec![
            line("SERUM-30ML", 12_900, fresh_terms()),
            line("TONER-100ML", 8_900, terms("2025-11-20", 12)), // expired 2026-11-20
            line("UNKNOWN", 1_000, None),
        ];
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert!(refused_reason(&decision, Remedy::Refund).contains("2026-11-20"));
    }

    #[test]
    fn an_unknown_product_or_batch_gets_the_benefit_of_the_doubt() {
        let unknown_batch = Some(ProductTerms {
            shelf_life_months: 36,
            pao_months: None,
            manufactured_on: None,
        });
        for lines in [
            vec![line("NOT-IN-CATALOGUE", 12_900, None)],
            vec![line("SERUM-30ML", 12_900, unknown_batch)],
            vec![],
        ] {
            for category in [Category::QualityDefect, Category::ExpiredOrNearExpiry] {
                let mut claim = request(category);
                claim.now = at("2031-01-01T00:00:00Z"); // years later: still no check possible
                claim.lines = lines.clone();
                let decision = match_remedies(&claim);
                assert!(decision.refused.is_empty(), "{decision:#?}");
                let reason = eligible_reason(&decision, Remedy::Refund);
                assert!(reason.contains("could not be checked"), "{reason}");
                assert!(reason.contains("benefit of the doubt"), "{reason}");
                assert_well_formed(&decision);
            }
        }
        let mut empty = request(Category::MissingItem);
        empty.lines.clear();
        let decision = match_remedies(&empty);
        assert_eq!(decision.eligible[1].amount_minor, Some(0));
    }

    // --- Expired or near expiry ---

    #[test]
    fn expired_at_delivery_is_a_full_refund_whatever_the_category() {
        // Made 2025-11-02 with 12 months: expired 2026-11-02, delivered 2026-11-03.
        for category in Category::BY_SERIOUSNESS {
            let mut claim = request(category);
            claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-11-02", 12))];
            let decision = match_remedies(&claim);
            assert_eq!(decision.suggested, Some(Remedy::Refund), "{category}");
            assert_eq!(decision.eligible[0].amount_minor, Some(12_900));
            assert_eq!(
                decision.eligible[0].reason,
                "Delivered 2026-11-03, but the batch expired on 2026-11-02: the goods were sold \
                 past their shelf life, so the customer gets a full refund."
            );
            assert!(eligible(&decision).contains(&Remedy::ExpertConsultation));
            assert_well_formed(&decision);
        }
    }

    #[test]
    fn near_expiry_at_delivery_is_refund_or_a_fresh_batch() {
        // Delivered on the expiry day: within shelf life, 0 days left.
        let mut claim = request(Category::ExpiredOrNearExpiry);
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-11-03", 12))];
        let decision = match_remedies(&claim);
        assert_eq!(eligible(&decision), [Remedy::Refund, Remedy::Replacement]);
        assert!(eligible_reason(&decision, Remedy::Refund).contains("0 days of shelf life left"));

        // 30 days left at delivery (expires 2026-12-03): near expiry.
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-12-03", 12))];
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::Refund));
        assert_eq!(eligible(&decision), [Remedy::Refund, Remedy::Replacement]);
        assert!(
            eligible_reason(&decision, Remedy::Replacement).contains("fresh batch"),
            "{decision:#?}"
        );
        assert_well_formed(&decision);

        // 31 days left: neither expired nor near expiry.
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-12-04", 12))];
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(refused(&decision), [Remedy::Refund, Remedy::Replacement]);
        assert!(refused_reason(&decision, Remedy::Refund).contains("31 days"));
        assert_well_formed(&decision);
    }

    #[test]
    fn a_near_expiry_claim_past_the_date_stands_through_day_7_after_delivery() {
        // Delivered 2026-11-03 with 2 days left (expires 2026-11-05).
        let mut claim = request(Category::ExpiredOrNearExpiry);
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-11-05", 12))];

        claim.now = at("2026-11-10T15:59:59Z"); // local 11-10, day 7
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::Refund));
        assert!(
            eligible_reason(&decision, Remedy::Refund).contains("within 7 days of delivery"),
            "{decision:#?}"
        );
        assert_well_formed(&decision);

        claim.now = at("2026-11-10T16:00:00Z"); // local 11-11, day 8
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert!(refused_reason(&decision, Remedy::Refund).contains("too late"));
        assert_well_formed(&decision);
    }

    #[test]
    fn delivered_fresh_and_expired_in_the_customers_hands_is_no_claim() {
        let mut claim = request(Category::ExpiredOrNearExpiry);
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2026-01-15", 12))]; // to 2027-01-15
        claim.now = at("2027-02-01T02:00:00Z");
        let decision = match_remedies(&claim);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        assert_eq!(refused(&decision), [Remedy::Refund, Remedy::Replacement]);
        assert!(refused_reason(&decision, Remedy::Refund).contains("in the customer's hands"));
        assert_well_formed(&decision);
    }

    // --- Adverse reaction ---

    #[test]
    fn an_adverse_reaction_always_suggests_refund_with_a_consultation() {
        let later_days = [
            "2026-11-04T02:00:00Z",
            "2026-12-03T02:00:00Z",
            "2028-01-01T02:00:00Z",
        ];
        for now in later_days {
            for opened in [None, Some(false), Some(true)] {
                for consented in [false, true] {
                    for severity in [Severity::Normal, Severity::Urgent] {
                        for product in [fresh_terms(), None] {
                            let mut claim = request(Category::AdverseReaction);
                            claim.now = at(now);
                            claim.opened = opened;
                            claim.opened_exclusion_consented = consented;
                            claim.severity = severity;
                            claim.lines = vec![line("SERUM-30ML", 12_900, product)];
                            let decision = match_remedies(&claim);
                            assert_eq!(decision.suggested, Some(Remedy::Refund));
                            assert_eq!(
                                eligible(&decision),
                                [Remedy::Refund, Remedy::ExpertConsultation]
                            );
                            assert!(decision.photo_required);
                            let refund = eligible_reason(&decision, Remedy::Refund);
                            assert!(refund.contains("not referred to the manufacturer"));
                            let care = eligible_reason(&decision, Remedy::ExpertConsultation);
                            assert_eq!(
                                care.contains("Urgent") && care.contains("medical care"),
                                severity == Severity::Urgent,
                                "{care}"
                            );
                            assert_well_formed(&decision);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn an_adverse_reaction_past_shelf_life_keeps_the_consultation() {
        let mut claim = request(Category::AdverseReaction);
        claim.lines = vec![line("SERUM-30ML", 12_900, terms("2025-12-01", 12))]; // to 2026-12-01
        claim.now = at("2027-01-10T02:00:00Z");
        let decision = match_remedies(&claim);
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        assert_eq!(decision.suggested, Some(Remedy::ExpertConsultation));
        assert_eq!(refused(&decision), [Remedy::Refund]);
        assert!(
            eligible_reason(&decision, Remedy::ExpertConsultation)
                .contains("the reaction still needs care")
        );
        assert!(decision.photo_required);
        assert_well_formed(&decision);
    }

    // --- The other categories ---

    #[test]
    fn each_category_suggests_its_remedy_within_shelf_life() {
        use Remedy::*;
        let expected: [(Category, &[Remedy]); 9] = [
            (Category::AdverseReaction, &[Refund, ExpertConsultation]),
            (
                Category::CounterfeitSuspected,
                &[ExpertConsultation, Refund],
            ),
            // Delivered fresh: not an expiry claim (see the near-expiry tests).
            (Category::ExpiredOrNearExpiry, &[ExpertConsultation]),
            (
                Category::QualityDefect,
                &[Replacement, Refund, Exchange, PartialRefund],
            ),
            (
                Category::DamagedInTransit,
                &[Replacement, Refund, PartialRefund],
            ),
            (Category::WrongItem, &[Exchange, Refund]),
            (Category::MissingItem, &[Replacement, Refund]),
            (
                Category::NotAsExpected,
                &[Refund, Exchange, ExpertConsultation],
            ),
            (Category::Inquiry, &[ExpertConsultation]),
        ];
        for (category, remedies) in expected {
            let decision = match_remedies(&request(category));
            assert_eq!(eligible(&decision), remedies, "{category}");
            assert_eq!(decision.suggested, Some(remedies[0]), "{category}");
            assert_well_formed(&decision);
        }
    }

    #[test]
    fn a_suspected_counterfeit_past_shelf_life_keeps_only_the_authenticity_check() {
        let mut claim = request(Category::CounterfeitSuspected);
        claim.now = at("2030-01-01T00:00:00Z");
        let decision = match_remedies(&claim);
        assert_eq!(eligible(&decision), [Remedy::ExpertConsultation]);
        assert_eq!(refused(&decision), [Remedy::Refund]);
        assert!(eligible_reason(&decision, Remedy::ExpertConsultation).contains("photos"));
        assert!(!decision.photo_required);
    }

    #[test]
    fn photo_evidence_is_required_for_damage_reactions_and_defects() {
        for category in Category::BY_SERIOUSNESS {
            let decision = match_remedies(&request(category));
            let expected = matches!(
                category,
                Category::DamagedInTransit | Category::AdverseReaction | Category::QualityDefect
            );
            assert_eq!(decision.photo_required, expected, "{category}");
        }
    }

    #[test]
    fn the_refund_amount_sums_the_claimed_lines() {
        let mut claim = request(Category::WrongItem);
        claim.lines = vec![
            line("SERUM-30ML", 12_900, fresh_terms()),
            ClaimedLine {
                quantity: 2,
                ..line("MASK-5PK", 9_000, None)
            },
            line("GIFT", 0, None),
        ];
        let decision = match_remedies(&claim);
        let refund = decision
            .eligible
            .iter()
            .find(|e| e.remedy == Remedy::Refund)
            .unwrap();
        assert_eq!(refund.amount_minor, Some(21_900));

        claim.lines = vec![
            line("A", i64::MAX, None),
            line("B", 1, None),
            line("C", -500, None),
        ];
        let decision = match_remedies(&claim);
        assert_eq!(decision.eligible[1].amount_minor, Some(i64::MAX));

        claim.lines = vec![line("C", -500, None)];
        let decision = match_remedies(&claim);
        assert_eq!(decision.eligible[1].amount_minor, Some(0));
    }

    #[test]
    fn decisions_are_ordered_without_duplicates_in_every_state() {
        let nows = [
            "2026-11-04T02:00:00Z",
            "2026-11-20T02:00:00Z",
            "2031-01-01T00:00:00Z",
        ];
        let products = [
            fresh_terms(),
            terms("2025-11-02", 12),
            terms("2025-11-20", 12),
            None,
        ];
        for category in Category::BY_SERIOUSNESS {
            for now in nows {
                for product in &products {
                    for delivered_at in [Some(at("2026-11-03T02:00:00Z")), None] {
                        for opened in [None, Some(true)] {
                            let mut claim = request(category);
                            claim.now = at(now);
                            claim.delivered_at = delivered_at;
                            claim.opened = opened;
                            claim.opened_exclusion_consented = true;
                            claim.lines = vec![line("X", 100, product.clone())];
                            let decision = match_remedies(&claim);
                            assert!(decision.suggested.is_some(), "{claim:#?}");
                            assert_well_formed(&decision);
                            if category == Category::AdverseReaction {
                                assert!(eligible(&decision).contains(&Remedy::ExpertConsultation));
                            }
                        }
                    }
                }
            }
        }
    }

    // --- Serialisation ---

    #[test]
    fn serde_uses_snake_case_names() {
        assert_eq!(
            serde_json::to_value(Remedy::PartialRefund).unwrap(),
            "partial_refund"
        );
        assert_eq!(
            serde_json::to_value(Remedy::ExpertConsultation).unwrap(),
            "expert_consultation"
        );
        let decision = match_remedies(&request(Category::DamagedInTransit));
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["suggested"], "replacement");
        assert_eq!(json["photo_required"], true);
        assert_eq!(json["eligible"][1]["remedy"], "refund");
        assert_eq!(json["eligible"][1]["amount_minor"], 12_900);
        assert!(json["eligible"][0].get("amount_minor").is_none());
        assert_eq!(json["eligible"][2]["remedy"], "partial_refund");
        assert_eq!(json["refused"], serde_json::json!([]));
    }

    #[test]
    fn requests_round_trip_with_the_offset_as_text() {
        let claim = request(Category::NotAsExpected);
        let json = serde_json::to_value(&claim).unwrap();
        assert_eq!(json["local_offset"], "+08:00");
        assert_eq!(json["category"], "not_as_expected");
        let back: RemedyRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, claim);

        // Without an offset the consumer's calendar is China Standard Time.
        let minimal: RemedyRequest = serde_json::from_value(serde_json::json!({
            "category": "quality_defect",
            "severity": "normal",
            "now": "2026-11-04T02:00:00Z",
            "currency": "CNY"
        }))
        .unwrap();
        assert_eq!(minimal.local_offset, CHINA_STANDARD_TIME);
        assert!(minimal.lines.is_empty());

        let bad = serde_json::from_value::<RemedyRequest>(serde_json::json!({
            "category": "quality_defect",
            "severity": "normal",
            "now": "2026-11-04T02:00:00Z",
            "currency": "CNY",
            "local_offset": "Beijing"
        }));
        assert!(bad.is_err());
    }
}
