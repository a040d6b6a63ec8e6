use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aftercare::telemetry::init();
    let escalation = sla_escalation::Escalation::from_env().await?;
    run(service_fn(|event| {
        sla_escalation::handle(&escalation, event)
    }))
    .await
}
