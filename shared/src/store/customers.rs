//! Customer records in the customers table (key `customer_id`). Intake keeps the instants the
//! customer opened cases in `case_openings`, appended in the transaction that opens a case, so
//! the repeat-complainant count is one item read beside the order's.
//!
//! The list only grows (about 30 bytes a case): pruning it would need a read-modify-write
//! that races concurrent openings. A customer reaches DynamoDB's 400 KB item limit only after
//! some 13,000 cases.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use chrono::{DateTime, Utc};

use super::StoreError;
use super::dynamo::corrupt;
use crate::clock::rfc3339;
use crate::customer::CaseHistory;

const CASE_OPENINGS: &str = "case_openings";

pub(crate) fn customer_key(customer_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([(
        "customer_id".to_owned(),
        AttributeValue::S(customer_id.to_owned()),
    )])
}

/// The case history on a customer item (an absent item or attribute is an empty history).
pub(crate) fn case_history(
    item: Option<&HashMap<String, AttributeValue>>,
) -> Result<CaseHistory, StoreError> {
    let Some(AttributeValue::L(openings)) = item.and_then(|i| i.get(CASE_OPENINGS)) else {
        return Ok(CaseHistory::default());
    };
    let mut opened = openings
        .iter()
        .map(|value| {
            let text = value
                .as_s()
                .map_err(|_| corrupt("a case opening is not a string"))?;
            Ok(DateTime::parse_from_rfc3339(text)
                .map_err(corrupt)?
                .to_utc())
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    opened.sort();
    Ok(CaseHistory { opened })
}

/// Appends one case opening to the customer's record, creating the record if needed.
pub(crate) fn record_opening(
    table: &str,
    customer_id: &str,
    at: DateTime<Utc>,
) -> Result<Update, StoreError> {
    Update::builder()
        .table_name(table)
        .set_key(Some(customer_key(customer_id)))
        .update_expression("SET #openings = list_append(if_not_exists(#openings, :none), :opened)")
        .expression_attribute_names("#openings", CASE_OPENINGS)
        .expression_attribute_values(":none", AttributeValue::L(vec![]))
        .expression_attribute_values(
            ":opened",
            AttributeValue::L(vec![AttributeValue::S(rfc3339(at))]),
        )
        .build()
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_customer_without_a_record_has_an_empty_history() {
        assert_eq!(case_history(None).unwrap(), CaseHistory::default());
        let bare = customer_key("c-1");
        assert_eq!(case_history(Some(&bare)).unwrap(), CaseHistory::default());
    }

    #[test]
    fn openings_are_read_oldest_first_and_garbage_is_corrupt() {
        let mut item = customer_key("c-1");
        item.insert(
            CASE_OPENINGS.into(),
            AttributeValue::L(vec![
                AttributeValue::S("2026-11-02T00:00:00.000Z".into()),
                AttributeValue::S("2026-11-01T00:00:00.000Z".into()),
            ]),
        );
        let history = case_history(Some(&item)).unwrap();
        assert_eq!(
            history.opened,
            vec![
                Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(),
                Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()
            ]
        );
        item.insert(
            CASE_OPENINGS.into(),
            AttributeValue::L(vec![AttributeValue::N("1".into())]),
        );
        assert!(matches!(
            case_history(Some(&item)),
            Err(StoreError::Corrupt(_))
        ));
    }
}
