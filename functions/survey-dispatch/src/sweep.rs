//! The sweep: on `SurveySweepSchedule`, every survey due at the scheduled event's time goes on
//! the `surveys-due` queue, then leaves the `surveys-due` index.
//!
//! Queue first, index after: a crash in between leaves the survey in the index and the next
//! run queues it again; the dispatcher sends a survey once whatever number of messages name
//! it. The reverse order could lose a survey.

use std::time::SystemTime;

use aftercare::store::{StoreError, SurveyStore};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::delivery::DueQueue;
use crate::{Ports, SurveyDispatch};

/// Surveys one query reads per shard (8 shards a round).
pub const PAGE_PER_SHARD: i32 = 125;
/// SQS takes 10 messages per SendMessageBatch; the index removals of a batch go together.
const BATCH: usize = aftercare::store::MARK_QUEUED_AT_ONCE;

/// What one run did; returned to the scheduler and logged.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct SweepReport {
    pub swept_at: DateTime<Utc>,
    /// Due surveys read from the index.
    pub due: usize,
    /// Put on the queue and taken out of the index.
    pub queued: usize,
    /// Not queued, or not taken out: the next run tries again.
    pub failed: usize,
    /// Left for the next run because this one neared its timeout.
    pub deferred: bool,
    /// AWS calls of the run (SDK interceptor).
    pub aws_calls: u64,
}

/// One run at the scheduled instant `at`: rounds of one page per shard until nothing due is
/// left, a round queues nothing, or the run nears `stop_by`. (The index lags its table a
/// moment on AWS, so a survey may be queued twice; it is still sent once.)
pub async fn sweep<P: Ports>(
    dispatch: &SurveyDispatch<P>,
    at: DateTime<Utc>,
    stop_by: SystemTime,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport {
        swept_at: at,
        ..SweepReport::default()
    };
    loop {
        if SystemTime::now() >= stop_by {
            report.deferred = true;
            break;
        }
        let due = dispatch.surveys.due_surveys(at, PAGE_PER_SHARD).await?;
        if due.is_empty() {
            break;
        }
        report.due += due.len();
        // A round shorter than one shard's page had no full shard: nothing is left behind.
        let more = due.len() >= PAGE_PER_SHARD as usize;
        let mut queued_this_round = 0;
        for batch in due.chunks(BATCH) {
            let accepted = match dispatch.queue.send_batch(batch).await {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "survey messages not queued; the next run retries");
                    vec![]
                }
            };
            report.failed += batch.len() - accepted.len();
            let queued: Vec<_> = batch
                .iter()
                .filter(|due| accepted.contains(&due.case_id.to_string()))
                .map(|due| due.case_id)
                .collect();
            let removals = dispatch.surveys.mark_queued(&queued).await;
            for removal in removals {
                match removal {
                    Ok(()) => queued_this_round += 1,
                    Err(error) => {
                        // Queued but still in the index: queued again next run, sent once.
                        tracing::warn!(%error, "a queued survey stayed in the due index");
                        report.failed += 1;
                    }
                }
            }
        }
        report.queued += queued_this_round;
        if queued_this_round == 0 || !more {
            break;
        }
    }
    report.aws_calls = dispatch.aws_calls.total();
    tracing::info!(
        due = report.due,
        queued = report.queued,
        failed = report.failed,
        deferred = report.deferred,
        aws_calls = report.aws_calls,
        "survey sweep"
    );
    Ok(report)
}
