//! A customer's refunds as the refund a resolution opens needs them: the narrow port intake
//! reads (the finance side uses the whole [`RefundStore`]).

use std::future::Future;

use super::{RefundStore, StoreError};
use crate::refund::Refund;

pub trait RefundHistory: Send + Sync {
    /// Every refund of the customer, newest first.
    fn refund_history(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Refund>, StoreError>> + Send;
}

impl<T: RefundStore> RefundHistory for T {
    fn refund_history(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<Refund>, StoreError>> + Send {
        self.refunds_of_customer(customer_id)
    }
}
