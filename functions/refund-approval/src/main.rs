use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aftercare::telemetry::init();
    let approval = refund_approval::RefundApproval::from_env().await?;
    run(service_fn(|event| {
        refund_approval::handle(&approval, event)
    }))
    .await
}
