//! The notifications queue: SLA warnings and escalations for the brand's messaging
//! integration (e-mail, chat, pager). A FIFO queue, deduplicated by each notification's id, so
//! that two sweeps racing on one case, or a sweep retried after a crash between sending and
//! recording, put one message on the queue, not two (within SQS's 5-minute deduplication
//! window; consumers can also rely on `notification_id`).

use std::future::Future;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::escalation::SlaNotification;

/// SendMessageBatch takes ten at a time.
const BATCH: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// Throttled, timed out, unreachable or partly refused: retrying later may succeed.
    #[error("the notifications queue did not take every message: {0}")]
    NotSent(String),
}

pub trait NotificationQueue: Send + Sync {
    /// Sends every notification, or fails (then some may have been sent: a retry sends the
    /// rest, and the queue drops the repeats).
    fn send(
        &self,
        notifications: &[SlaNotification],
    ) -> impl Future<Output = Result<(), NotificationError>> + Send;
}

#[derive(Debug, Clone)]
pub struct SqsNotificationQueue {
    client: Client,
    queue_url: String,
}

impl SqsNotificationQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        SqsNotificationQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl NotificationQueue for SqsNotificationQueue {
    async fn send(&self, notifications: &[SlaNotification]) -> Result<(), NotificationError> {
        for chunk in notifications.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, notification)| {
                    let body = serde_json::to_string(notification)
                        .map_err(|e| NotificationError::NotSent(e.to_string()))?;
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        // One case's notifications stay in order; cases do not wait on each other.
                        .message_group_id(&notification.case_id)
                        .message_deduplication_id(dedup_id(&notification.notification_id))
                        .build()
                        .map_err(|e| NotificationError::NotSent(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| NotificationError::NotSent(format!("{e:?}")))?;
            if let Some(failed) = output.failed().first() {
                return Err(NotificationError::NotSent(format!(
                    "{} of {} refused, first: {} {}",
                    output.failed().len(),
                    chunk.len(),
                    failed.code(),
                    failed.message().unwrap_or("")
                )));
            }
        }
        Ok(())
    }
}

/// SQS takes at most 128 characters of `[A-Za-z0-9!-~]` as a deduplication id; ours are ULID +
/// target + stage, well within, but anything else is replaced rather than refused.
fn dedup_id(notification_id: &str) -> String {
    notification_id
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deduplication_ids_are_what_sqs_accepts() {
        assert_eq!(
            dedup_id("01JD:first_response:at_risk"),
            "01JD:first_response:at_risk"
        );
        assert_eq!(dedup_id("a b\u{4e00}"), "a_b_");
        assert_eq!(dedup_id(&"x".repeat(300)).len(), 128);
    }
}
