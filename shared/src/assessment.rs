//! What intake decides about a new complaint, before anything is written: which order lines
//! it concerns and what was paid for them, what it is about (classification), what can be
//! done (remedies), which queue it waits in and how urgently. Pure: the handler reads the
//! order and the catalogue, this decides.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::case::{CaseDraft, InvalidField, Priority, Queue};
use crate::classify::{Classification, ComplaintContext, classify};
use crate::complaint::{Category, Severity};
use crate::order::OrderFile;
use crate::remedy::{
    ClaimedLine, ProductTerms, RemedyDecision, RemedyRequest, china_standard_time, match_remedies,
};
use crate::store::ProductFile;

/// The outcome of assessing a complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub classification: Classification,
    pub remedies: RemedyDecision,
    pub queue: Queue,
    pub priority: Priority,
    pub claimed: Vec<ClaimedLine>,
}

/// The order lines a complaint names, with what was paid for the claimed units and the
/// product's shelf-life terms; a SKU not in the order, or more units than were bought, is
/// refused (the customer cannot claim what they did not buy).
pub fn claimed_lines(
    draft: &CaseDraft,
    order: &OrderFile,
    products: &BTreeMap<String, ProductFile>,
) -> Result<Vec<ClaimedLine>, InvalidField> {
    let Some(snapshot) = &order.order else {
        return Err(InvalidField {
            field: "order_id",
            reason: "the order's details have not arrived from the store yet; try again shortly"
                .into(),
        });
    };
    draft
        .lines
        .iter()
        .map(|wanted| {
            let sku = wanted.sku.as_str();
            let bought: Vec<_> = snapshot
                .lines
                .iter()
                .filter(|l| l.sku.as_deref() == Some(sku))
                .collect();
            if bought.is_empty() {
                return Err(InvalidField {
                    field: "lines[].sku",
                    reason: format!("{sku} is not in this order"),
                });
            }
            let quantity: u32 = bought.iter().map(|l| l.quantity).sum();
            let paid: i64 = bought.iter().map(|l| l.paid_minor).sum();
            let claimed = wanted.quantity.get();
            if claimed > quantity {
                return Err(InvalidField {
                    field: "lines[].quantity",
                    reason: format!("the order has {quantity} of {sku}, not {claimed}"),
                });
            }
            // What was paid for the claimed units: a share of the lines, rounded down so a
            // refund never exceeds the payment.
            let paid_minor = if quantity == 0 {
                0
            } else {
                paid.saturating_mul(i64::from(claimed)) / i64::from(quantity)
            };
            let file = products.get(sku);
            let product = file.map(|file| {
                let batch = bought.iter().find_map(|l| l.batch.as_deref());
                ProductTerms {
                    shelf_life_months: file.product.shelf_life_months,
                    pao_months: file.product.pao_months,
                    manufactured_on: batch
                        .and_then(|lot| file.batches.iter().find(|b| b.batch == lot))
                        .map(|b| b.manufactured_on),
                }
            });
            Ok(ClaimedLine {
                sku: sku.to_owned(),
                quantity: claimed,
                paid_minor,
                product,
            })
        })
        .collect()
}

/// Which queue a case waits in and how urgently: adverse reactions and quality defects go to
/// the skin-care experts, the rest to customer service; urgent severity gets the urgent SLA.
pub fn route(classification: &Classification) -> (Queue, Priority) {
    let queue = match classification.category {
        Category::AdverseReaction | Category::QualityDefect => Queue::Expert,
        _ => Queue::Service,
    };
    let priority = match classification.severity {
        Severity::Urgent => Priority::Urgent,
        Severity::Normal => Priority::Normal,
    };
    (queue, priority)
}

impl Assessment {
    /// The assessment of a text alone, with no order or product known: for tests and for
    /// staff classifying a phone or chat complaint before it is tied to an order.
    pub fn of_text(text: &str, context: &ComplaintContext, now: DateTime<Utc>) -> Assessment {
        let classification = classify(text, context);
        let remedies = match_remedies(&RemedyRequest {
            category: classification.category,
            severity: classification.severity,
            delivered_at: None,
            now,
            opened: None,
            opened_exclusion_consented: false,
            lines: Vec::new(),
            currency: "CNY".into(),
            local_offset: china_standard_time(),
        });
        let (queue, priority) = route(&classification);
        Assessment {
            classification,
            remedies,
            queue,
            priority,
            claimed: Vec::new(),
        }
    }
}

/// Assesses a complaint against its order and products.
pub fn assess(
    draft: &CaseDraft,
    order: &OrderFile,
    products: &BTreeMap<String, ProductFile>,
    context: &ComplaintContext,
    now: DateTime<Utc>,
) -> Result<Assessment, InvalidField> {
    let claimed = claimed_lines(draft, order, products)?;
    let classification = classify(draft.description.as_str(), context);
    let snapshot = order
        .order
        .as_ref()
        .expect("claimed_lines refused an order without details");
    let remedies = match_remedies(&RemedyRequest {
        category: classification.category,
        severity: classification.severity,
        delivered_at: order.delivered_at(),
        now,
        opened: draft.opened,
        opened_exclusion_consented: snapshot.opened_exclusion_consented,
        lines: claimed.clone(),
        currency: snapshot.currency.as_str().to_owned(),
        local_offset: china_standard_time(),
    });
    let (queue, priority) = route(&classification);
    Ok(Assessment {
        classification,
        remedies,
        queue,
        priority,
        claimed,
    })
}
