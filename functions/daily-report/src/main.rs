use lambda_runtime::{Error, run, service_fn};

fn main() -> Result<(), Error> {
    // Before anything else: it sets an environment variable.
    aftercare::config::prefer_ca_bundle();
    // One invocation at a time: one thread serves it.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Error> {
    aftercare::telemetry::init();
    let reporter = daily_report::Reporter::from_env().await?;
    run(service_fn(|event| daily_report::handle(&reporter, event))).await
}
