// The handler future nests deeply (routing, webhooks, assessment); the default limit is too low
// to compute its layout.
#![recursion_limit = "256"]

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aftercare::telemetry::init();
    let intake = intake::Intake::from_env().await?;
    run(service_fn(|event| intake::handle(&intake, event))).await
}
