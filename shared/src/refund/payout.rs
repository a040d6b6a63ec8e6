//! The payout message: what an approved refund puts on the FIFO queue `refunds-approved` for the
//! brand's payment integration, which answers through [`super::Refund::settle`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Actor, Refund, RefundError, RefundId, RefundLine, RefundStatus, decimal};
use crate::case::CaseId;
use crate::money::Currency;

/// The queue's name in the template.
pub const QUEUE: &str = "refunds-approved";

/// The longest message group or deduplication id SQS accepts.
const MAX_FIFO_ID_CHARS: usize = 128;

/// The body of one payout message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutMessage {
    pub refund_id: RefundId,
    #[serde(with = "super::case_id_text")]
    pub case_id: CaseId,
    pub order_reference: String,
    pub customer_id: String,
    /// What to pay, in integer minor units: the authoritative amount.
    pub amount_minor: i64,
    /// The same amount as exact decimal text in the currency's unit (`"200.00"`), for
    /// integrations that take decimals; never a float.
    pub amount: String,
    pub currency: Currency,
    pub lines: Vec<RefundLine>,
    pub approved_at: DateTime<Utc>,
    /// `"finance:<user id>"` per finance approver, or `"policy"` when auto-approved.
    pub approvers: Vec<Actor>,
    /// 1 for the first payout of the refund, one more after each failed one.
    pub attempt: u32,
}

impl PayoutMessage {
    /// The message of an approved refund; any other state has nothing to pay.
    pub fn for_refund(refund: &Refund) -> Result<PayoutMessage, RefundError> {
        let approved_at = refund
            .approved_at()
            .filter(|_| refund.status() == RefundStatus::Approved)
            .ok_or(RefundError::IllegalTransition {
                status: refund.status(),
                action: "send the payout of",
            })?;
        Ok(PayoutMessage {
            refund_id: refund.id(),
            case_id: refund.case_id(),
            order_reference: refund.order_reference().to_owned(),
            customer_id: refund.customer_id().to_owned(),
            amount_minor: refund.amount_minor(),
            amount: decimal(refund.amount_minor(), refund.currency()),
            currency: refund.currency(),
            lines: refund.lines().to_vec(),
            approved_at,
            approvers: refund.approvals().iter().map(|a| a.by.clone()).collect(),
            attempt: refund.payout_attempt(),
        })
    }

    /// Payouts of one order are paid in order: the order reference, or its SHA-256 when it
    /// has characters SQS refuses or is longer than 128.
    pub fn message_group_id(&self) -> String {
        fifo_id(&self.order_reference)
    }

    /// The refund id: a message resent for the same payout (a retried send) is dropped by
    /// SQS. A payout approved again after a failure is another payout and gets
    /// `<refund id>#<attempt>`, so it is not dropped as a duplicate of the failed one.
    pub fn deduplication_id(&self) -> String {
        if self.attempt <= 1 {
            self.refund_id.to_string()
        } else {
            format!("{}#{}", self.refund_id, self.attempt)
        }
    }
}

/// `raw` if SQS takes it as a FIFO id (1 to 128 ASCII letters, digits and punctuation), else
/// `sha256:<hex>` of it.
fn fifo_id(raw: &str) -> String {
    let acceptable = !raw.is_empty()
        && raw.len() <= MAX_FIFO_ID_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
    if acceptable {
        raw.to_owned()
    } else {
        let hex: String = Sha256::digest(raw.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha256:{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refund::tests::{finance, pending, t};

    #[test]
    fn ids_group_by_order_and_deduplicate_by_refund() {
        let approved = pending(15_000).approve(&finance("f-1"), t(10)).unwrap();
        let message = PayoutMessage::for_refund(&approved.refund).unwrap();
        assert_eq!(
            message.message_group_id(),
            "shopify:brand.myshopify.com:1001"
        );
        assert_eq!(message.deduplication_id(), approved.refund.id().to_string());
        assert_eq!(
            (message.amount_minor, message.amount.as_str()),
            (15_000, "150.00")
        );
        assert_eq!(message.approved_at, t(10));
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["approvers"], serde_json::json!(["finance:f-1"]));
        assert_eq!(json["currency"], "CNY");
        assert_eq!(json["refund_id"], approved.refund.id().to_string());
        assert_eq!(
            serde_json::from_value::<PayoutMessage>(json).unwrap(),
            message
        );
    }

    #[test]
    fn only_an_approved_refund_has_a_payout() {
        assert_eq!(
            PayoutMessage::for_refund(&pending(15_000)),
            Err(RefundError::IllegalTransition {
                status: RefundStatus::Pending,
                action: "send the payout of"
            })
        );
    }

    #[test]
    fn unusable_group_ids_are_hashed() {
        assert_eq!(
            fifo_id("woocommerce:shop.example.com:727"),
            "woocommerce:shop.example.com:727"
        );
        let long = format!("generic:site:{}", "9".repeat(200));
        for raw in [long.as_str(), "generic:商店:1", "generic:a b:1"] {
            let id = fifo_id(raw);
            assert!(id.starts_with("sha256:") && id.len() == 71, "{raw} -> {id}");
        }
        assert_ne!(fifo_id("generic:商店:1"), fifo_id("generic:商店:2"));
    }
}
