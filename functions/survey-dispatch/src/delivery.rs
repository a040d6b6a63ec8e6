//! The two channels a survey goes out on, behind ports: the e-mail (SES v2) and the store's
//! signed outbound webhook (HTTP POST, 5 s timeout), and the queue the sweep fills.

use std::future::Future;
use std::time::Duration;

use aftercare::survey::{SurveyDue, SurveyEmail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long a store's webhook may take to answer.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// A send that did not reach its channel: known not delivered, so it is released and retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{channel} not delivered: {reason}")]
pub struct NotDelivered {
    pub channel: &'static str,
    pub reason: String,
}

/// Sends survey e-mails.
pub trait SurveyMail: Send + Sync {
    fn send(
        &self,
        to: &str,
        email: &SurveyEmail,
    ) -> impl Future<Output = Result<(), NotDelivered>> + Send;
}

/// Posts signed webhooks.
pub trait SurveyHooks: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`; anything but a 2xx answer within
    /// [`WEBHOOK_TIMEOUT`] is not delivered.
    fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> impl Future<Output = Result<(), NotDelivered>> + Send;
}

/// The `surveys-due` queue.
pub trait DueQueue: Send + Sync {
    /// Sends up to 10 messages in one call; returns the case ids SQS accepted.
    fn send_batch(
        &self,
        dues: &[SurveyDue],
    ) -> impl Future<Output = Result<Vec<String>, String>> + Send;
}

/// SES v2 with the template's verified sender identity.
#[derive(Debug, Clone)]
pub struct SesMail {
    client: aws_sdk_sesv2::Client,
    from: String,
}

impl SesMail {
    pub fn new(client: aws_sdk_sesv2::Client, from: impl Into<String>) -> Self {
        SesMail {
            client,
            from: from.into(),
        }
    }
}

impl SurveyMail for SesMail {
    async fn send(&self, to: &str, email: &SurveyEmail) -> Result<(), NotDelivered> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let not_delivered = |reason: String| NotDelivered {
            channel: "email",
            reason,
        };
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|e| not_delivered(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .text(content(&email.text_body)?)
                    .html(content(&email.html_body)?)
                    .build(),
            )
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| {
                not_delivered(aws_sdk_sesv2::error::DisplayErrorContext(&e).to_string())
            })?;
        Ok(())
    }
}

type WebhookClient = HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// hyper over rustls with the platform's roots: the stack the AWS SDK links already. Built on
/// the first webhook, not at init: reading and parsing the platform's roots is a cold start's
/// costliest step here, and most instances (the routes, the sweep, stores without a webhook)
/// post none.
#[derive(Clone, Default)]
pub struct HyperHooks {
    client: std::sync::OnceLock<WebhookClient>,
}

impl HyperHooks {
    pub fn new() -> Self {
        HyperHooks::default()
    }

    fn client(&self) -> Result<&WebhookClient, String> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for certificate in native.certs {
            // A certificate the platform ships but rustls cannot read is skipped, as the SDK does.
            let _ = roots.add(certificate);
        }
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        // http:// is allowed only to loopback hosts (see SurveyWebhookTargets).
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(self
            .client
            .get_or_init(|| HttpClient::builder(TokioExecutor::new()).build(connector)))
    }
}

impl SurveyHooks for HyperHooks {
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(), NotDelivered> {
        let not_delivered = |reason: String| NotDelivered {
            channel: "webhook",
            reason,
        };
        let mut request = hyper::Request::post(url).header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| not_delivered(e.to_string()))?;
        let client = self.client().map_err(not_delivered)?;
        let response = tokio::time::timeout(WEBHOOK_TIMEOUT, async {
            let response = client.request(request).await?;
            let status = response.status();
            // Read (and drop) the answer so the connection can be reused.
            let _ = response.into_body().collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await
        .map_err(|_| not_delivered(format!("no answer within {WEBHOOK_TIMEOUT:?}")))?
        .map_err(|e| not_delivered(e.to_string()))?;
        if response.is_success() {
            Ok(())
        } else {
            Err(not_delivered(format!("the store answered {response}")))
        }
    }
}

/// The standard queue `surveys-due`.
#[derive(Debug, Clone)]
pub struct SqsDueQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDueQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsDueQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl DueQueue for SqsDueQueue {
    async fn send_batch(&self, dues: &[SurveyDue]) -> Result<Vec<String>, String> {
        use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
        let entries = dues
            .iter()
            .enumerate()
            .map(|(i, due)| {
                let body = serde_json::to_string(due).map_err(|e| e.to_string())?;
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, String>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        Ok(output
            .successful()
            .iter()
            .filter_map(|entry| entry.id().parse::<usize>().ok())
            .filter_map(|i| dues.get(i).map(|due| due.case_id.to_string()))
            .collect())
    }
}
