use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    aftercare::telemetry::init();
    let photos = photo_upload::PhotoUpload::from_env().await?;
    run(service_fn(|event| photo_upload::handle(&photos, event))).await
}
