// The handler future nests deeply (routes, the dispatcher's sends, the store's writes); the
// default limit is too low to compute its layout.
#![recursion_limit = "256"]

use lambda_runtime::{Error, run, service_fn};

fn main() -> Result<(), Error> {
    // Before anything else: it sets an environment variable.
    aftercare::config::prefer_ca_bundle();
    // Lambda gives an instance one invocation at a time: one thread serves it, and starting
    // no worker pool shortens the cold start.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> Result<(), Error> {
    aftercare::telemetry::init();
    let dispatch = survey_dispatch::SurveyDispatch::from_env().await?;
    run(service_fn(|event| {
        survey_dispatch::handle(&dispatch, event)
    }))
    .await
}
