//! How a survey reaches the customer: the e-mail (SES), and the signed outbound webhook for a
//! store that sends it itself (app push, SMS, WeChat).
//!
//! Neither carries more than the link needs: no order contents, no names, no case details.
//!
//! The webhook is signed like inbound generic webhooks (base64 HMAC-SHA256 in
//! `X-Aftercare-Signature`), but over `"<timestamp>.<body>"`, with the Unix time in seconds
//! in `X-Aftercare-Timestamp` (Stripe's scheme). A receiver ([`verify_webhook`]) refuses a
//! timestamp more than [`WEBHOOK_TOLERANCE`] from its clock, so a captured delivery cannot be
//! replayed later; within the tolerance it deduplicates on `case_id` (one survey per case).

use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Survey, SurveyLanguage, SurveyRefusal, SurveyToken};
use crate::case::{CaseId, InvalidField};
use crate::storefront::{self, Platform};

/// The header with the base64 HMAC-SHA256 of `"<timestamp>.<body>"`.
pub const SIGNATURE_HEADER: &str = "X-Aftercare-Signature";
/// The header with the Unix time (seconds) the delivery was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Aftercare-Timestamp";
/// How far a delivery's timestamp may be from the receiver's clock, either way (clocks drift).
pub const WEBHOOK_TOLERANCE: Duration = Duration::minutes(5);

/// Where survey links point: the survey page's origin and path prefix, as the template
/// configures it (`https://help.brand.example`). Checked once at start-up, so every link is
/// a plain http(s) URL with no query or fragment for the token path to land in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyBaseUrl(String);

impl SurveyBaseUrl {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let invalid = |reason: &str| InvalidField::new("survey_base_url", reason);
        let url = raw.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| invalid("must start with https:// (or http:// for local testing)"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("must name a host"));
        }
        let allowed = |c: char| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | ':' | '/' | '%')
        };
        if !rest.chars().all(allowed) {
            return Err(invalid(
                "must be a plain URL: letters, digits and - . _ ~ : / % only, no query or fragment",
            ));
        }
        Ok(SurveyBaseUrl(url.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<base>/surveys/<token>`: the page that shows the questions.
    pub fn link(&self, token: &SurveyToken) -> String {
        format!("{}/surveys/{}", self.0, token.as_str())
    }

    /// `<base>/surveys/<token>/opt-out`: the page that asks for no more surveys (it calls
    /// `POST /surveys/{token}/opt-out`).
    pub fn opt_out_link(&self, token: &SurveyToken) -> String {
        format!("{}/opt-out", self.link(token))
    }
}

/// The stores that announce surveys themselves (app push, SMS, WeChat): the template's
/// `SurveyWebhookUrls`, `"<platform>:<store>=<url>,…"` (empty: none), e.g.
/// `generic:glow-lab-tmall=https://hooks.glow-lab.example/aftercare/surveys`.
///
/// A URL must be `https://`. The one exception is a loopback host (`127.0.0.1`, `localhost`,
/// `[::1]`) over `http://`: the local twin's test receiver. It is no hole in production, where
/// a Lambda's loopback reaches nothing but the function itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SurveyWebhookTargets(Vec<(Platform, String, String)>);

impl SurveyWebhookTargets {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let invalid = |reason: String| InvalidField::new("survey_webhook_urls", reason);
        let mut targets = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (store, url) = entry
                .split_once('=')
                .ok_or_else(|| invalid(format!("{entry:?} is not <platform>:<store>=<url>")))?;
            let (platform, store) = store
                .trim()
                .split_once(':')
                .ok_or_else(|| invalid(format!("{store:?} is not <platform>:<store>")))?;
            let platform = match platform {
                "shopify" => Platform::Shopify,
                "woocommerce" => Platform::WooCommerce,
                "generic" => Platform::Generic,
                other => {
                    return Err(invalid(format!(
                        "{other:?} is not a platform (shopify, woocommerce, generic)"
                    )));
                }
            };
            let store = crate::order::store_key(store);
            if store.is_empty() {
                return Err(invalid(format!("{entry:?} names no store")));
            }
            let url = url.trim();
            if !webhook_url_allowed(url) {
                return Err(invalid(format!(
                    "{url:?} must be an https:// URL (http:// only to a loopback host)"
                )));
            }
            if targets
                .iter()
                .any(|(p, s, _)| *p == platform && *s == store)
            {
                return Err(invalid(format!("{platform}:{store} is listed twice")));
            }
            targets.push((platform, store, url.to_owned()));
        }
        Ok(SurveyWebhookTargets(targets))
    }

    /// The URL of the store an order reference (`<platform>:<store>:<order id>`) names.
    pub fn for_order(&self, order_reference: &str) -> Option<(Platform, &str, &str)> {
        let mut parts = order_reference.splitn(3, ':');
        let (platform, store) = (parts.next()?, parts.next()?);
        self.0
            .iter()
            .find(|(p, s, _)| p.as_str() == platform && *s == store)
            .map(|(p, s, url)| (*p, s.as_str(), url.as_str()))
    }

    /// Every configured store.
    pub fn stores(&self) -> impl Iterator<Item = (Platform, &str)> {
        self.0.iter().map(|(p, s, _)| (*p, s.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `https://<host>…`, or `http://` to a loopback host; no spaces, no userinfo.
fn webhook_url_allowed(url: &str) -> bool {
    let (rest, loopback_only) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => (rest, false),
        (None, Some(rest)) => (rest, true),
        _ => return false,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty()
        || authority.contains('@')
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    !loopback_only || matches!(host, "127.0.0.1" | "localhost" | "::1")
}

/// Text for HTML content and attribute values.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

/// The survey e-mail, ready for SES.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyEmail {
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

struct EmailText {
    subject: &'static str,
    greeting: &'static str,
    intro: &'static str,
    button: &'static str,
    fallback: &'static str,
    validity: &'static str,
    opt_out: &'static str,
}

fn email_text(language: SurveyLanguage) -> EmailText {
    match language {
        SurveyLanguage::ZhCn => EmailText {
            subject: "您对本次售后服务满意吗？",
            greeting: "您好：",
            intro: "感谢您联系我们的售后服务，您的问题已处理完毕。请花一分钟为本次服务评分，您的评价将帮助我们改进。",
            button: "为本次服务评分",
            fallback: "如果按钮无法打开，请复制以下链接到浏览器：",
            validity: "链接 28 天内有效，无需登录。",
            opt_out: "如不希望再收到满意度调查，请点击此处退订：",
        },
        SurveyLanguage::En => EmailText {
            subject: "How did we do with your request?",
            greeting: "Hello,",
            intro: "Thank you for contacting our after-sales service; your request has been \
                    resolved. Please take a minute to rate the help you received: your answer \
                    helps us improve.",
            button: "Rate our service",
            fallback: "If the button does not open, copy this link into your browser:",
            validity: "The link works for 28 days and needs no login.",
            opt_out: "If you would rather not receive surveys, unsubscribe here:",
        },
    }
}

impl SurveyEmail {
    /// The e-mail in `language` with the link to `token`'s survey.
    pub fn render(
        language: SurveyLanguage,
        base_url: &SurveyBaseUrl,
        token: &SurveyToken,
    ) -> SurveyEmail {
        let text = email_text(language);
        let link = base_url.link(token);
        let opt_out_link = base_url.opt_out_link(token);
        let text_body = format!(
            "{}\n\n{}\n\n{link}\n\n{}\n\n{} {opt_out_link}\n",
            text.greeting, text.intro, text.validity, text.opt_out
        );
        let e = escape_html;
        let href = e(&link);
        let opt_out_href = e(&opt_out_link);
        let mut html_body = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            html_body,
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>{subject}</title>\n</head>\n\
             <body style=\"font-family: sans-serif; line-height: 1.5; color: #222;\">\n\
             <p>{greeting}</p>\n<p>{intro}</p>\n\
             <p><a href=\"{href}\" style=\"display: inline-block; padding: 10px 20px; \
             background: #8a5a44; color: #fff; text-decoration: none; border-radius: 4px;\">\
             {button}</a></p>\n\
             <p>{fallback}<br>\n<a href=\"{href}\">{href}</a></p>\n\
             <p>{validity}</p>\n<p style=\"font-size: small; color: #666;\">{opt_out} \
             <a href=\"{opt_out_href}\">{opt_out_href}</a></p>\n\
             </body>\n</html>\n",
            lang = e(language.as_str()),
            subject = e(text.subject),
            greeting = e(text.greeting),
            intro = e(text.intro),
            button = e(text.button),
            fallback = e(text.fallback),
            validity = e(text.validity),
            opt_out = e(text.opt_out),
        );
        SurveyEmail {
            subject: text.subject.to_owned(),
            text_body,
            html_body,
        }
    }
}

/// The only event of the survey webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SurveyWebhookEvent {
    #[serde(rename = "survey.ready")]
    SurveyReady,
}

/// The outbound webhook body: the store's own channel tells the customer (app, SMS, WeChat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyWebhook {
    pub event: SurveyWebhookEvent,
    /// The deduplication key for the receiver: one survey per case.
    #[serde(with = "crate::refund::case_id_text")]
    pub case_id: CaseId,
    pub customer_id: String,
    pub language: SurveyLanguage,
    pub survey_url: String,
    pub expires_at: DateTime<Utc>,
}

impl SurveyWebhook {
    /// The body for a survey sent with `token`; a survey not sent has no link to announce.
    pub fn for_survey(
        survey: &Survey,
        base_url: &SurveyBaseUrl,
        token: &SurveyToken,
    ) -> Result<SurveyWebhook, SurveyRefusal> {
        let expires_at = survey
            .expires_at
            .filter(|_| survey.token_matches(token))
            .ok_or(SurveyRefusal::NotSent)?;
        Ok(SurveyWebhook {
            event: SurveyWebhookEvent::SurveyReady,
            case_id: survey.case_id,
            customer_id: survey.customer_id.clone(),
            language: survey.language(),
            survey_url: base_url.link(token),
            expires_at,
        })
    }
}

/// The two header values of a signed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSignature {
    /// [`TIMESTAMP_HEADER`]: Unix seconds.
    pub timestamp: String,
    /// [`SIGNATURE_HEADER`]: base64 HMAC-SHA256 of `"<timestamp>.<body>"`.
    pub signature: String,
}

/// What is signed: the timestamp, a dot, the raw body.
fn signed_payload(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(timestamp.len() + 1 + body.len());
    payload.extend_from_slice(timestamp.as_bytes());
    payload.push(b'.');
    payload.extend_from_slice(body);
    payload
}

/// Signs `body` for delivery at `now` with the store's secret. A retried delivery is signed
/// again with its own time.
pub fn sign_webhook(secret: &[u8], body: &[u8], now: DateTime<Utc>) -> WebhookSignature {
    let timestamp = now.timestamp().to_string();
    let signature = storefront::sign(secret, &signed_payload(&timestamp, body));
    WebhookSignature {
        timestamp,
        signature,
    }
}

/// For receivers (and our tests): whether a delivery is genuine and fresh at `now`. The
/// timestamp must be decimal Unix seconds within [`WEBHOOK_TOLERANCE`] of `now`, and the
/// signature the HMAC of `"<timestamp>.<body>"` (compared in constant time).
pub fn verify_webhook(
    secret: &[u8],
    body: &[u8],
    timestamp: &str,
    signature: &str,
    now: DateTime<Utc>,
) -> bool {
    let timestamp = timestamp.trim();
    if timestamp.is_empty()
        || timestamp.len() > 12
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return false;
    }
    let Ok(seconds) = timestamp.parse::<i64>() else {
        return false;
    };
    let fresh = now
        .timestamp()
        .checked_sub(seconds)
        .is_some_and(|age| age.abs() <= WEBHOOK_TOLERANCE.num_seconds());
    fresh && storefront::verify_signature(secret, &signed_payload(timestamp, body), signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::SURVEY_LIFETIME;
    use crate::survey::tests::{sent, t, token};

    fn base() -> SurveyBaseUrl {
        SurveyBaseUrl::parse("https://help.brand.example/").unwrap()
    }

    #[test]
    fn the_base_url_is_a_plain_http_url() {
        assert_eq!(base().as_str(), "https://help.brand.example");
        assert_eq!(
            base().link(&token(0)),
            format!("https://help.brand.example/surveys/{}", token(0).as_str())
        );
        assert!(SurveyBaseUrl::parse("http://localhost:3000/cs").is_ok());
        for bad in [
            "",
            "help.brand.example",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://a.example/?x=1",
            "https://a.example/#top",
            "https://a.example/\"><script>",
            "https://a .example",
        ] {
            assert_eq!(
                SurveyBaseUrl::parse(bad).unwrap_err().field,
                "survey_base_url",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_email_has_the_link_in_both_languages_and_nothing_of_the_order() {
        let token = token(9);
        let link = base().link(&token);
        for language in [SurveyLanguage::ZhCn, SurveyLanguage::En] {
            let email = SurveyEmail::render(language, &base(), &token);
            assert!(email.text_body.contains(&link), "{language}");
            assert!(email.html_body.contains(&format!("href=\"{link}\"")));
            assert!(email.html_body.contains(&format!("lang=\"{language}\"")));
            assert!(email.text_body.contains("28"));
            let opt_out = format!("{link}/opt-out");
            assert!(email.text_body.contains(&opt_out));
            assert!(email.html_body.contains(&format!("href=\"{opt_out}\"")));
        }
        assert_eq!(SURVEY_LIFETIME, Duration::days(28), "the texts say 28 days");
        let zh = SurveyEmail::render(SurveyLanguage::ZhCn, &base(), &token);
        assert_eq!(zh.subject, "您对本次售后服务满意吗？");
        assert!(zh.html_body.contains("为本次服务评分"));
        let en = SurveyEmail::render(SurveyLanguage::En, &base(), &token);
        assert!(en.html_body.contains("Rate our service"));
    }

    #[test]
    fn the_html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        // A base URL with characters HTML gives meaning to is refused before it gets here;
        // one that passes is still escaped where it lands.
        let url = SurveyBaseUrl("https://a.example/x?a=1&b=<2>".into());
        let email = SurveyEmail::render(SurveyLanguage::En, &url, &token(1));
        assert!(email.html_body.contains("x?a=1&amp;b=&lt;2&gt;/surveys/"));
        assert!(!email.html_body.contains("b=<2>"));
        assert!(email.text_body.contains("x?a=1&b=<2>/surveys/"));
    }

    #[test]
    fn the_webhook_announces_a_sent_survey() {
        let survey = sent();
        let webhook = SurveyWebhook::for_survey(&survey, &base(), &token(7)).unwrap();
        let json = serde_json::to_value(&webhook).unwrap();
        assert_eq!(json["event"], "survey.ready");
        assert_eq!(json["case_id"], survey.case_id.to_string());
        assert_eq!(json["customer_id"], "c-1");
        assert_eq!(json["language"], "zh-CN");
        assert_eq!(json["survey_url"], base().link(&token(7)));
        assert_eq!(
            json["expires_at"],
            serde_json::to_value(survey.expires_at.unwrap()).unwrap()
        );
        assert_eq!(
            serde_json::from_value::<SurveyWebhook>(json).unwrap(),
            webhook
        );
        assert_eq!(
            SurveyWebhook::for_survey(&survey, &base(), &token(8)),
            Err(SurveyRefusal::NotSent),
            "another token is not this survey's link"
        );
        let pending = crate::survey::Survey::due(&crate::survey::tests::due());
        assert_eq!(
            SurveyWebhook::for_survey(&pending, &base(), &token(7)),
            Err(SurveyRefusal::NotSent)
        );
    }

    #[test]
    fn a_receiver_accepts_genuine_fresh_deliveries_only() {
        let secret = b"store-webhook-secret-1";
        let body = br#"{"event":"survey.ready"}"#;
        let now = t(0);
        let signed = sign_webhook(secret, body, now);
        assert_eq!(signed.timestamp, now.timestamp().to_string());
        // The scheme, spelled out for receivers' engineers.
        assert_eq!(
            signed.signature,
            storefront::sign(
                secret,
                format!("{}.{{\"event\":\"survey.ready\"}}", signed.timestamp).as_bytes()
            )
        );
        let verify = |secret: &[u8], body: &[u8], timestamp: &str, signature: &str, at| {
            verify_webhook(secret, body, timestamp, signature, at)
        };
        let (ts, sig) = (signed.timestamp.as_str(), signed.signature.as_str());
        assert!(verify(secret, body, ts, sig, now));
        assert!(verify(secret, body, ts, sig, now + WEBHOOK_TOLERANCE));
        assert!(verify(secret, body, ts, sig, now - WEBHOOK_TOLERANCE));
        // Tampered body, wrong secret.
        assert!(!verify(
            secret,
            br#"{"event":"survey.readY"}"#,
            ts,
            sig,
            now
        ));
        assert!(!verify(b"another-store-secret", body, ts, sig, now));
        // Old (replayed) or from the future.
        let too_late = now + WEBHOOK_TOLERANCE + Duration::seconds(1);
        assert!(!verify(secret, body, ts, sig, too_late));
        assert!(!verify(secret, body, ts, sig, now - Duration::minutes(6)));
        // A fresh timestamp on an old signature: the timestamp is signed.
        let old = sign_webhook(secret, body, now - Duration::hours(1));
        assert!(!verify(secret, body, ts, &old.signature, now));
        // Malformed headers.
        for bad in ["", "-1", "+1", "1e9", "99999999999999999999", "１２"] {
            assert!(!verify(secret, body, bad, sig, now), "{bad:?}");
        }
        assert!(!verify(secret, body, ts, "", now));
        assert!(!verify(secret, body, ts, "not base64!", now));
    }

    #[test]
    fn webhook_targets_are_https_per_store_with_a_loopback_exception() {
        let targets = SurveyWebhookTargets::parse(
            " generic:Glow-Lab=https://hooks.glow.example/s , shopify:brand.myshopify.com=http://127.0.0.1:9000/h",
        )
        .unwrap();
        assert_eq!(
            targets.for_order("generic:glow-lab:4021"),
            Some((
                Platform::Generic,
                "glow-lab",
                "https://hooks.glow.example/s"
            ))
        );
        assert_eq!(
            targets
                .for_order("shopify:brand.myshopify.com:1")
                .map(|t| t.2),
            Some("http://127.0.0.1:9000/h")
        );
        assert_eq!(targets.for_order("generic:other:1"), None);
        assert_eq!(targets.for_order("nonsense"), None);
        assert_eq!(targets.stores().count(), 2);
        assert!(SurveyWebhookTargets::parse("").unwrap().is_empty());
        for bad in [
            "generic:a=http://hooks.example/s",
            "generic:a=http://127.0.0.1.evil.example/s",
            "generic:a=ftp://x",
            "generic:a=https://user@x.example/",
            "generic:a=https://",
            "magento:a=https://x.example",
            "generic=https://x.example",
            "generic:a",
            "generic:a=https://x.example,generic:A=https://y.example",
        ] {
            assert_eq!(
                SurveyWebhookTargets::parse(bad).unwrap_err().field,
                "survey_webhook_urls",
                "{bad:?}"
            );
        }
        assert!(SurveyWebhookTargets::parse("generic:a=http://localhost:8080/x").is_ok());
        assert!(SurveyWebhookTargets::parse("generic:a=http://[::1]:8080/x").is_ok());
    }
}
