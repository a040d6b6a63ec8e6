//! The reconciliation export: refunds as CSV for finance's spreadsheet.
//!
//! RFC 4180: comma-separated, CRLF line ends, a field holding a comma, a double quote or a line
//! break in double quotes with its quotes doubled. Against formula injection (a customer id
//! such as `=HYPERLINK(…)` that a spreadsheet would run), a field starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading apostrophe, as OWASP recommends: spreadsheets
//! show it as text, and whoever reads the raw file sees the value was guarded. No field Aftercare
//! writes itself (ids, amounts, times, statuses) starts with one of these, so only text from
//! outside (customer ids, order references, provider references) is ever changed.

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Refund, decimal};

/// The columns, in order; the first row of every export.
pub const CSV_COLUMNS: [&str; 13] = [
    "refund_id",
    "case_id",
    "order_reference",
    "customer_id",
    "currency",
    "amount_minor",
    "amount",
    "status",
    "requested_at",
    "requested_by",
    "decided_at",
    "decided_by",
    "provider_reference",
];

/// One row per refund, in the order given, after the header. `decided_by` joins two approvers
/// with `;`; times are RFC 3339 in UTC; empty fields for what has not happened yet.
pub fn export_csv(refunds: &[Refund]) -> String {
    let mut csv = String::new();
    push_row(&mut csv, CSV_COLUMNS.iter().map(|c| c.to_string()));
    for refund in refunds {
        push_row(
            &mut csv,
            [
                refund.id().to_string(),
                refund.case_id().to_string(),
                refund.order_reference().to_owned(),
                refund.customer_id().to_owned(),
                refund.currency().to_string(),
                refund.amount_minor().to_string(),
                decimal(refund.amount_minor(), refund.currency()),
                refund.status().to_string(),
                time(refund.requested_at()),
                refund.requested_by().id().to_owned(),
                refund.decided_at().map(time).unwrap_or_default(),
                refund
                    .decided_by()
                    .iter()
                    .map(|actor| actor.id())
                    .collect::<Vec<_>>()
                    .join(";"),
                refund
                    .settlement()
                    .map(|s| s.settlement.provider_reference().to_owned())
                    .unwrap_or_default(),
            ],
        );
    }
    csv
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn push_row(csv: &mut String, fields: impl IntoIterator<Item = String>) {
    let row: Vec<String> = fields.into_iter().map(|f| field(&f)).collect();
    csv.push_str(&row.join(","));
    csv.push_str("\r\n");
}

/// One field, guarded against formulas, then quoted if it must be.
pub(crate) fn field(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refund::tests::{finance, pending, pending_with, t};
    use crate::refund::{Actor, RefundDraft, Settled, Settlement};

    #[test]
    fn quotes_per_rfc_4180_and_guards_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rlf"), "\"cr\rlf\"");
        assert_eq!(field("=1+1"), "'=1+1");
        assert_eq!(field("+86 138"), "'+86 138");
        assert_eq!(field("-5"), "'-5");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(
            field("=HYPERLINK(\"http://x\",\"a,b\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\""
        );
        assert_eq!(field("a=b"), "a=b", "only a leading sign is a formula");
        assert_eq!(field(""), "");
    }

    #[test]
    fn one_row_per_refund_after_the_header() {
        let rejected = pending(15_000)
            .reject(&finance("f-1"), "Outside the policy.", t(5))
            .unwrap()
            .refund;
        let two = pending_with(250_000, |draft: &mut RefundDraft| {
            draft.customer_id = "=cmd|' /C calc'!A0".into();
        });
        let once = two.approve(&finance("f-1"), t(10)).unwrap().refund;
        let granted = once.approve(&finance("f-2"), t(20)).unwrap().refund;
        let Settled::Changed(paid) = granted
            .settle(
                &Actor::PaymentIntegration,
                Settlement::Paid {
                    provider_reference: "pay,\"77\"".into(),
                },
                t(30),
            )
            .unwrap()
        else {
            panic!("paid");
        };
        let waiting = pending(15_000);
        let csv = export_csv(&[rejected.clone(), paid.refund.clone(), waiting.clone()]);
        let rows: Vec<&str> = csv.split_terminator("\r\n").collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            "refund_id,case_id,order_reference,customer_id,currency,amount_minor,amount,status,\
             requested_at,requested_by,decided_at,decided_by,provider_reference"
        );
        assert_eq!(
            rows[1],
            format!(
                "{},{},shopify:brand.myshopify.com:1001,c-1,CNY,15000,150.00,rejected,\
                 2026-11-11T08:00:00Z,a-1,2026-11-11T08:05:00Z,f-1,",
                rejected.id(),
                rejected.case_id()
            )
        );
        assert_eq!(
            rows[2],
            format!(
                "{},{},shopify:brand.myshopify.com:1001,'=cmd|' /C calc'!A0,CNY,250000,2500.00,paid,\
                 2026-11-11T08:00:00Z,a-1,2026-11-11T08:20:00Z,f-1;f-2,\"pay,\"\"77\"\"\"",
                paid.refund.id(),
                paid.refund.case_id()
            )
        );
        assert!(rows[3].ends_with(",pending,2026-11-11T08:00:00Z,a-1,,,"));
        assert!(csv.ends_with("\r\n"));
    }

    #[test]
    fn amounts_use_the_currency_s_minor_digits() {
        use crate::money::Currency;
        let code = |c: &str| Currency::parse(c).unwrap();
        assert_eq!(decimal(20_000, code("CNY")), "200.00");
        assert_eq!(decimal(5, code("USD")), "0.05");
        assert_eq!(decimal(1_980, code("JPY")), "1980");
        assert_eq!(decimal(1_234, code("KWD")), "1.234");
        assert_eq!(decimal(-1_234, code("KWD")), "-1.234");
        assert_eq!(decimal(i64::MIN, code("USD")), "-92233720368547758.08");
        assert_eq!(export_csv(&[]).lines().count(), 1);
    }
}
