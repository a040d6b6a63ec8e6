use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aftercare::telemetry::init();
    let dispatch = survey_dispatch::SurveyDispatch::from_env()?;
    run(service_fn(|event| {
        survey_dispatch::handle(&dispatch, event)
    }))
    .await
}
