//! Satisfaction surveys: when one is due, the link's token, the stored survey and what a valid
//! answer is. Pure: the dispatcher supplies the randomness and the time, the store writes what
//! these functions return.
//!
//! The life of a survey, one per case (CSAT practice of Zendesk and Chatwoot):
//! 1. The case is resolved: [`schedule`] decides when the survey is due: resolution + the
//!    delay ([`DEFAULT_DELAY`], 24 h). [`Survey::due`] is the stored record, written with the
//!    resolution; a sweep puts its [`SurveyDue`] on the `surveys-due` queue once due.
//! 2. The dispatcher [`Survey::send`]s it with a fresh [`SurveyToken`] per channel (e-mail,
//!    the store's webhook), in the language of the order's locale, never to a customer who
//!    opted out. Only each token's [`TokenHash`] is stored; the token lives only in the link
//!    of the e-mail or the webhook ([`message`]), valid [`SURVEY_LIFETIME`] (28 days) from
//!    sending. Each channel has its own token so that a channel retried after the other one
//!    went out gets a link of its own, without the first link (which we cannot rebuild from
//!    its hash) changing.
//! 3. `GET /surveys/{token}` shows the [`questions()`]; `POST /surveys/{token}` records one
//!    [`SurveyResponse`] ([`answer`]). A malformed token is answered like an unknown one (404),
//!    so the API does not tell which tokens could exist.
//!
//! The rating is credited to `resolved_by`, the agent who resolved the case. Satisfied means a
//! CSAT of 4 or 5: the satisfaction rate is their share of the answers (target >= 90 %).

pub mod message;
pub mod questions;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::case::{Case, CaseId, InvalidField};
use crate::metrics;
use crate::service_levels::CounterChange;

pub use message::{
    SurveyBaseUrl, SurveyEmail, SurveyWebhook, SurveyWebhookTargets, WebhookSignature,
    sign_webhook, verify_webhook,
};
pub use questions::{SurveyQuestions, questions};

/// The queue a [`SurveyDue`] goes on (its name in the template).
pub const QUEUE: &str = "surveys-due";

/// How long after the resolution a survey is sent unless the template says otherwise:
/// Zendesk's default, late enough for the customer to see whether the fix held.
pub const DEFAULT_DELAY: Duration = Duration::hours(24);

/// The longest delay the template may set (30 days, in minutes): past that a survey no longer
/// rates the service the customer remembers.
pub const MAX_DELAY_MINUTES: i64 = 30 * 24 * 60;

/// How long a survey link is valid after it was sent.
pub const SURVEY_LIFETIME: Duration = Duration::days(28);

/// `instant + span`, or the latest representable instant: no input makes time arithmetic panic.
pub(crate) fn later(instant: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    instant
        .checked_add_signed(span)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Compares in time that depends only on the length (public), never on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// The survey delay from the template's parameter, in minutes (0 sends as soon as the case is
/// resolved); blank means [`DEFAULT_DELAY`].
pub fn parse_delay_minutes(raw: &str) -> Result<Duration, InvalidField> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(DEFAULT_DELAY);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|minutes| (0..=MAX_DELAY_MINUTES).contains(minutes))
        .map(Duration::minutes)
        .ok_or_else(|| {
            InvalidField::new(
                "survey_delay_minutes",
                format!("{raw:?} is not a number of minutes from 0 to {MAX_DELAY_MINUTES}"),
            )
        })
}

/// The secret in a survey link: 32 random bytes as URL-safe base64 without padding (43
/// characters). The dispatcher supplies the bytes, so this module needs no random source.
///
/// Debug output never shows the token, and equality is checked in constant time.
#[derive(Clone)]
pub struct SurveyToken(String);

impl SurveyToken {
    pub const BYTES: usize = 32;
    /// 32 bytes are 43 characters of unpadded base64.
    pub const CHARS: usize = 43;

    pub fn from_bytes(bytes: [u8; Self::BYTES]) -> Self {
        SurveyToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as it appears in a link: exactly 43 characters of the URL-safe alphabet that
    /// decode to 32 bytes (unused trailing bits zero, so each token has one spelling and one
    /// hash). Nothing is trimmed or decoded from percent-escapes.
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let invalid = || InvalidField::new("token", "is not a survey link token");
        if raw.len() != Self::CHARS {
            return Err(invalid());
        }
        match URL_SAFE_NO_PAD.decode(raw) {
            Ok(bytes) if bytes.len() == Self::BYTES => Ok(SurveyToken(raw.to_owned())),
            _ => Err(invalid()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the token's text, lowercase hex: what the surveys table stores and its
    /// `surveys-by-token` index finds. The token has 256 random bits, so no salt or slow hash
    /// is needed; a leaked table yields no working link.
    pub fn hash(&self) -> TokenHash {
        let digest = Sha256::digest(self.0.as_bytes());
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl PartialEq for SurveyToken {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SurveyToken {}

impl fmt::Debug for SurveyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SurveyToken(<secret>)")
    }
}

/// The stored form of a [`SurveyToken`]: 64 lowercase hex digits. Compared in constant time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

impl TokenHash {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let valid = raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if valid {
            Ok(TokenHash(raw.to_owned()))
        } else {
            Err(InvalidField::new(
                "token_hash",
                "must be 64 lowercase hex digits (SHA-256)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `token` is the token this hash was made from.
    pub fn matches(&self, token: &SurveyToken) -> bool {
        *self == token.hash()
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for TokenHash {}

impl TryFrom<String> for TokenHash {
    type Error = InvalidField;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        TokenHash::parse(&raw)
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> String {
        hash.0
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The two languages surveys are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SurveyLanguage {
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl SurveyLanguage {
    /// The language for a customer's locale (`"zh-CN"`, `"zh"`, `"zh_TW"`, `"en-US"`, `"fr"`):
    /// simplified Chinese for any `zh` locale, English for every other one. A customer with no
    /// locale on record gets Chinese: the storefronts this serves sell in China, and one that
    /// records no locale is a Chinese one.
    pub fn from_locale(locale: Option<&str>) -> SurveyLanguage {
        let Some(locale) = locale.map(str::trim).filter(|l| !l.is_empty()) else {
            return SurveyLanguage::ZhCn;
        };
        let primary = locale.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("zh") {
            SurveyLanguage::ZhCn
        } else {
            SurveyLanguage::En
        }
    }

    /// The BCP 47 tag: `zh-CN`, `en`.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveyLanguage::ZhCn => "zh-CN",
            SurveyLanguage::En => "en",
        }
    }
}

impl fmt::Display for SurveyLanguage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Customer satisfaction, 1 (very dissatisfied) to 5 (very satisfied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Csat(u8);

impl Csat {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 5;

    pub fn parse(raw: i64) -> Result<Csat, InvalidField> {
        u8::try_from(raw)
            .ok()
            .filter(|score| (Self::MIN..=Self::MAX).contains(score))
            .map(Csat)
            .ok_or_else(|| {
                InvalidField::new(
                    "csat",
                    "must be a score from 1 (very dissatisfied) to 5 (very satisfied)",
                )
            })
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// 4 or 5: what the satisfaction rate counts.
    pub fn is_satisfied(self) -> bool {
        self.0 >= 4
    }

    /// 1 or 2: the customer is asked what went wrong.
    pub fn asks_for_reason(self) -> bool {
        self.0 <= 2
    }
}

impl TryFrom<i64> for Csat {
    type Error = InvalidField;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Csat::parse(raw)
    }
}

impl From<Csat> for u8 {
    fn from(score: Csat) -> u8 {
        score.0
    }
}

/// Net promoter score, 0 (not at all likely to recommend) to 10 (extremely likely).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u8")]
pub struct Nps(u8);

impl Nps {
    pub const MAX: u8 = 10;

    pub fn parse(raw: i64) -> Result<Nps, InvalidField> {
        u8::try_from(raw)
            .ok()
            .filter(|score| *score <= Self::MAX)
            .map(Nps)
            .ok_or_else(|| InvalidField::new("nps", "must be a score from 0 to 10"))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Nps {
    type Error = InvalidField;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        Nps::parse(raw)
    }
}

impl From<Nps> for u8 {
    fn from(score: Nps) -> u8 {
        score.0
    }
}

/// What went wrong, chosen by a customer who rated 1 or 2: a fixed list, so the reasons can be
/// counted per agent and per category without reading comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyReason {
    SlowResponse,
    UnhelpfulAnswer,
    RemedyUnfair,
    ProductProblemUnsolved,
    RudeOrUnprofessional,
    Other,
}

impl SurveyReason {
    /// In the order the survey lists them.
    pub const ALL: [SurveyReason; 6] = [
        SurveyReason::SlowResponse,
        SurveyReason::UnhelpfulAnswer,
        SurveyReason::RemedyUnfair,
        SurveyReason::ProductProblemUnsolved,
        SurveyReason::RudeOrUnprofessional,
        SurveyReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyReason::SlowResponse => "slow_response",
            SurveyReason::UnhelpfulAnswer => "unhelpful_answer",
            SurveyReason::RemedyUnfair => "remedy_unfair",
            SurveyReason::ProductProblemUnsolved => "product_problem_unsolved",
            SurveyReason::RudeOrUnprofessional => "rude_or_unprofessional",
            SurveyReason::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Option<SurveyReason> {
        SurveyReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == raw)
    }

    /// What the customer reads.
    pub fn label(self, language: SurveyLanguage) -> &'static str {
        use SurveyLanguage::{En, ZhCn};
        match (self, language) {
            (SurveyReason::SlowResponse, ZhCn) => "回复太慢",
            (SurveyReason::SlowResponse, En) => "It took too long to get an answer",
            (SurveyReason::UnhelpfulAnswer, ZhCn) => "回答没有帮助",
            (SurveyReason::UnhelpfulAnswer, En) => "The answer did not help",
            (SurveyReason::RemedyUnfair, ZhCn) => "处理方案不合理",
            (SurveyReason::RemedyUnfair, En) => "The solution offered was unfair",
            (SurveyReason::ProductProblemUnsolved, ZhCn) => "产品问题没有解决",
            (SurveyReason::ProductProblemUnsolved, En) => "The problem with the product remains",
            (SurveyReason::RudeOrUnprofessional, ZhCn) => "服务态度不好或不专业",
            (SurveyReason::RudeOrUnprofessional, En) => "Staff were rude or unprofessional",
            (SurveyReason::Other, ZhCn) => "其他原因",
            (SurveyReason::Other, En) => "Something else",
        }
    }

    fn list() -> String {
        SurveyReason::ALL.map(SurveyReason::as_str).join(", ")
    }
}

impl fmt::Display for SurveyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /surveys/{token}`, as the survey page sends it. `csat` is optional here only so that
/// its absence gets the same precise error as a bad value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyResponseRequest {
    #[serde(default)]
    pub csat: Option<i64>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub nps: Option<i64>,
}

/// A survey answer that passed every check.
///
/// `reason` is present exactly when `csat` is 1 or 2: it is required then, and refused with a
/// higher score, because the list says what went wrong and a reason beside a good score would
/// blur the count of why customers were unhappy (a client that sends one has a bug to fix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyResponse {
    pub csat: Csat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<SurveyReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nps: Option<Nps>,
    /// Trimmed; `None` when absent or blank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl SurveyResponse {
    /// Characters, not bytes: 1,000 Chinese characters are 3,000 bytes of UTF-8.
    pub const MAX_COMMENT_CHARS: usize = 1_000;

    pub fn parse(request: SurveyResponseRequest) -> Result<SurveyResponse, InvalidField> {
        let csat = match request.csat {
            Some(raw) => Csat::parse(raw)?,
            None => {
                return Err(InvalidField::new(
                    "csat",
                    "is required: a score from 1 (very dissatisfied) to 5 (very satisfied)",
                ));
            }
        };
        let reason = match request.reason.as_deref() {
            Some(raw) => Some(SurveyReason::parse(raw).ok_or_else(|| {
                InvalidField::new("reason", format!("must be one of {}", SurveyReason::list()))
            })?),
            None => None,
        };
        match (csat.asks_for_reason(), reason) {
            (true, None) => {
                return Err(InvalidField::new(
                    "reason",
                    format!(
                        "is required when csat is 1 or 2: one of {}",
                        SurveyReason::list()
                    ),
                ));
            }
            (false, Some(_)) => {
                return Err(InvalidField::new(
                    "reason",
                    "is asked only when csat is 1 or 2; leave it out for a score of 3 to 5",
                ));
            }
            _ => {}
        }
        let nps = request.nps.map(Nps::parse).transpose()?;
        let comment = match request.comment.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                if text.chars().count() > Self::MAX_COMMENT_CHARS {
                    return Err(InvalidField::new(
                        "comment",
                        format!("must be at most {} characters", Self::MAX_COMMENT_CHARS),
                    ));
                }
                if text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                {
                    return Err(InvalidField::new(
                        "comment",
                        "must not contain control characters other than line breaks and tabs",
                    ));
                }
                Some(text.to_owned())
            }
        };
        Ok(SurveyResponse {
            csat,
            reason,
            nps,
            comment,
        })
    }

    pub fn is_satisfied(&self) -> bool {
        self.csat.is_satisfied()
    }
}

/// Why a survey cannot be sent or answered. [`SurveyRefusal::status`] is the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SurveyRefusal {
    /// No link was ever sent for this survey: no valid link exists, so it is a 404 like an
    /// unknown token.
    #[error("there is no survey at this link")]
    NotSent,
    /// The dispatcher got the survey again: it went out once, it never goes out twice.
    #[error("the survey was already sent")]
    AlreadySent,
    /// The customer opted out after the case was resolved: it is never sent.
    #[error("the customer opted out of surveys")]
    OptedOut,
    #[error("this survey has already been answered; thank you")]
    AlreadyAnswered,
    #[error("this survey link expired at {expires_at}")]
    Expired { expires_at: DateTime<Utc> },
}

impl SurveyRefusal {
    /// 404 (no such survey), 409 (answered, or already sent / opted out for the dispatcher,
    /// which drops the message rather than answering HTTP), 410 (expired).
    pub fn status(&self) -> u16 {
        match self {
            SurveyRefusal::NotSent => 404,
            SurveyRefusal::Expired { .. } => 410,
            SurveyRefusal::AlreadySent
            | SurveyRefusal::OptedOut
            | SurveyRefusal::AlreadyAnswered => 409,
        }
    }

    /// The machine-readable code of the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            SurveyRefusal::NotSent => "survey_not_found",
            SurveyRefusal::AlreadySent => "survey_already_sent",
            SurveyRefusal::OptedOut => "survey_opted_out",
            SurveyRefusal::AlreadyAnswered => "survey_already_answered",
            SurveyRefusal::Expired { .. } => "survey_expired",
        }
    }
}

/// The `surveys-due` message: a case was resolved and its customer will be asked. It carries
/// everything the stored [`Survey`] starts from, and the keys of the customer and the order
/// the dispatcher reads (opt-out, e-mail address, locale), so it needs no case read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurveyDue {
    #[serde(with = "crate::refund::case_id_text")]
    pub case_id: CaseId,
    pub customer_id: String,
    /// The case's order reference (`<platform>:<store>:<order id>`): the orders table's key,
    /// and the store whose webhook announces the survey.
    pub order_reference: String,
    /// `"<role>:<subject>"` of who resolved the case: the rating is theirs.
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

impl SurveyDue {
    /// The case id: one survey per case, so a second message for a case (a retried send, a
    /// case resolved again after reopening) is the same survey.
    pub fn deduplication_id(&self) -> String {
        self.case_id.to_string()
    }
}

/// A case was resolved at `resolved_at` by `resolved_by`: the survey due `delay` later (a
/// negative delay counts as none), or `None` when the customer opted out. The language is
/// not decided here: it is the order's locale when the survey is sent.
pub fn schedule(
    case_id: CaseId,
    customer_id: &str,
    order_reference: &str,
    resolved_by: &str,
    resolved_at: DateTime<Utc>,
    delay: Duration,
    opted_out: bool,
) -> Option<SurveyDue> {
    if opted_out {
        return None;
    }
    Some(SurveyDue {
        case_id,
        customer_id: customer_id.to_owned(),
        order_reference: order_reference.to_owned(),
        resolved_by: resolved_by.to_owned(),
        resolved_at,
        due_at: later(resolved_at, delay.max(Duration::zero())),
    })
}

/// [`schedule`] for a resolved case: `None` also when the case has no resolution.
pub fn schedule_for_case(case: &Case, delay: Duration, opted_out: bool) -> Option<SurveyDue> {
    let resolution = case.resolution.as_ref()?;
    schedule(
        case.id,
        &case.customer_id,
        case.order_id.as_str(),
        &resolution.by,
        resolution.at,
        delay,
        opted_out,
    )
}

/// The survey of one case, as the surveys table holds it (key `case_id`).
///
/// A token hash (of the e-mail's link, of the webhook's link, or both), `sent_at`,
/// `expires_at` and `language` are set together when it is sent; `response` and `answered_at`
/// together when it is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Survey {
    #[serde(with = "crate::refund::case_id_text")]
    pub case_id: CaseId,
    pub customer_id: String,
    pub order_reference: String,
    /// The order's locale's language, decided when the survey is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<SurveyLanguage>,
    /// `"<role>:<subject>"` of the agent the rating is credited to.
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// The hash of the e-mail link's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<TokenHash>,
    /// The hash of the webhook link's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_token_hash: Option<TokenHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<SurveyResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<Utc>>,
}

impl Survey {
    /// The survey a due message describes: not sent yet.
    pub fn due(due: &SurveyDue) -> Survey {
        Survey {
            case_id: due.case_id,
            customer_id: due.customer_id.clone(),
            order_reference: due.order_reference.clone(),
            language: None,
            resolved_by: due.resolved_by.clone(),
            resolved_at: due.resolved_at,
            due_at: due.due_at,
            token_hash: None,
            webhook_token_hash: None,
            sent_at: None,
            expires_at: None,
            response: None,
            answered_at: None,
        }
    }

    /// Sent, with a link that can still work (a record missing any part counts as not sent).
    pub fn is_sent(&self) -> bool {
        (self.token_hash.is_some() || self.webhook_token_hash.is_some())
            && self.sent_at.is_some()
            && self.expires_at.is_some()
    }

    pub fn is_answered(&self) -> bool {
        self.response.is_some()
    }

    /// Whether the customer was satisfied (CSAT 4 or 5); `None` until answered.
    pub fn satisfied(&self) -> Option<bool> {
        self.response.as_ref().map(SurveyResponse::is_satisfied)
    }

    /// Whether `token` is this survey's: a record found through the eventually consistent
    /// token index is checked against the token before it is shown or answered.
    pub fn token_matches(&self, token: &SurveyToken) -> bool {
        [&self.token_hash, &self.webhook_token_hash]
            .into_iter()
            .flatten()
            .any(|hash| hash.matches(token))
    }

    /// The survey with `token`'s link sent at `now` in `language`, valid [`SURVEY_LIFETIME`].
    /// Sent once: a second attempt is refused, as is one for a customer who has opted out
    /// since the case was resolved. Whether it is due is the sweep's decision, not this one's:
    /// the sweep queues only what is due.
    pub fn send(
        &self,
        token: &SurveyToken,
        language: SurveyLanguage,
        opted_out: bool,
        now: DateTime<Utc>,
    ) -> Result<Survey, SurveyRefusal> {
        if self.sent_at.is_some() || self.token_hash.is_some() || self.webhook_token_hash.is_some()
        {
            return Err(SurveyRefusal::AlreadySent);
        }
        if opted_out {
            return Err(SurveyRefusal::OptedOut);
        }
        let mut next = self.clone();
        next.token_hash = Some(token.hash());
        next.language = Some(language);
        next.sent_at = Some(now);
        next.expires_at = Some(later(now, SURVEY_LIFETIME));
        Ok(next)
    }

    /// The language the survey is shown in: the one it was sent in.
    pub fn language(&self) -> SurveyLanguage {
        self.language.unwrap_or(SurveyLanguage::ZhCn)
    }

    /// Whether the survey takes an answer at `now` (and so whether `GET` shows the questions):
    /// sent, not answered, not expired. A link is expired from the instant `expires_at` on.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), SurveyRefusal> {
        let Some(expires_at) = self.expires_at.filter(|_| self.is_sent()) else {
            return Err(SurveyRefusal::NotSent);
        };
        if self.is_answered() {
            return Err(SurveyRefusal::AlreadyAnswered);
        }
        if now >= expires_at {
            return Err(SurveyRefusal::Expired { expires_at });
        }
        Ok(())
    }
}

/// Records `response` at `now`: one answer per survey (a second is 409), none after the link
/// expired (410) and none for a survey that was never sent (404).
pub fn answer(
    survey: &Survey,
    response: SurveyResponse,
    now: DateTime<Utc>,
) -> Result<Survey, SurveyRefusal> {
    survey.check_open(now)?;
    let mut next = survey.clone();
    next.response = Some(response);
    next.answered_at = Some(now);
    Ok(next)
}

/// How long a dispatcher's claim on a survey stands: longer than the function's timeout
/// (30 s), so a claim older than this belongs to an attempt that crashed or timed out.
pub const CLAIM_LEASE: Duration = Duration::seconds(90);

/// How a survey went out, or why it did not: the dispatcher's final word on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DispatchOutcome {
    /// Every channel the survey has (e-mail, the store's webhook) delivered it.
    Sent,
    /// The customer opted out: nothing was sent.
    OptedOut,
    /// Neither an e-mail address nor a webhook for the order's store: nothing to send with.
    Unreachable,
    /// An attempt claimed the survey and never reported back (crash, timeout): it may or may
    /// not have gone out. It is not sent again, because a duplicate is worse than a survey
    /// lost; the operator sees it in the log (error) and in the counters.
    DeliveryUnknown,
}

impl DispatchOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchOutcome::Sent => "sent",
            DispatchOutcome::OptedOut => "opted_out",
            DispatchOutcome::Unreachable => "unreachable",
            DispatchOutcome::DeliveryUnknown => "delivery_unknown",
        }
    }

    pub fn parse(raw: &str) -> Option<DispatchOutcome> {
        [
            DispatchOutcome::Sent,
            DispatchOutcome::OptedOut,
            DispatchOutcome::Unreachable,
            DispatchOutcome::DeliveryUnknown,
        ]
        .into_iter()
        .find(|outcome| outcome.as_str() == raw)
    }
}

/// What a dispatcher does with a survey another attempt has claimed (found when its own claim
/// was refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimedElsewhere {
    /// The claim is within its lease: that attempt may still finish (or release the survey on
    /// a failure); try again later.
    InFlight,
    /// The claim outlived its lease: its attempt ended without reporting. Record
    /// [`DispatchOutcome::DeliveryUnknown`].
    Abandoned,
}

/// Whether a claim made at `claimed_at` still stands at `now`.
pub fn claimed_elsewhere(claimed_at: DateTime<Utc>, now: DateTime<Utc>) -> ClaimedElsewhere {
    if now - claimed_at >= CLAIM_LEASE {
        ClaimedElsewhere::Abandoned
    } else {
        ClaimedElsewhere::InFlight
    }
}

/// One counter item's additions (series, day period, attribute, amount).
fn counter(
    series: String,
    day: DateTime<Utc>,
    case: &CaseId,
    adds: Vec<(&str, i64)>,
) -> CounterChange {
    CounterChange {
        series,
        period: metrics::day_period(day.date_naive(), case),
        adds: adds.into_iter().map(|(a, n)| (a.to_owned(), n)).collect(),
    }
}

/// What a dispatch outcome adds to the [`metrics::SURVEYS`] counters, on the day `at`.
pub fn dispatch_counters(
    case: &CaseId,
    outcome: DispatchOutcome,
    at: DateTime<Utc>,
) -> Vec<CounterChange> {
    vec![counter(
        metrics::SURVEYS.to_owned(),
        at,
        case,
        vec![(outcome.as_str(), 1)],
    )]
}

/// What an answered survey adds to the counters, on the day it was answered: the day's survey
/// figures and those of the agent it is credited to (`resolved_by`). Empty if not answered.
pub fn answer_counters(survey: &Survey) -> Vec<CounterChange> {
    let (Some(response), Some(at)) = (&survey.response, survey.answered_at) else {
        return vec![];
    };
    let satisfied = i64::from(response.is_satisfied());
    let csat = response.csat.get();
    let csat_attribute = format!("csat_{csat}");
    let agent = &survey.resolved_by;
    let credited = [
        format!("{}{agent}", metrics::AGENT_ANSWERED),
        format!("{}{agent}", metrics::AGENT_SATISFIED),
        format!("{}{agent}", metrics::AGENT_CSAT_SUM),
    ];
    let mut day = vec![
        ("answered", 1),
        ("satisfied", satisfied),
        (csat_attribute.as_str(), 1),
    ];
    if let Some(nps) = response.nps {
        day.push(("nps_answers", 1));
        day.push(("nps_promoters", i64::from(nps.get() >= 9)));
        day.push(("nps_detractors", i64::from(nps.get() <= 6)));
    }
    day.extend([
        (credited[0].as_str(), 1),
        (credited[1].as_str(), satisfied),
        (credited[2].as_str(), i64::from(csat)),
    ]);
    vec![counter(
        metrics::SURVEYS.to_owned(),
        at,
        &survey.case_id,
        day,
    )]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn t(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 11, 8, 0, 0).unwrap() + Duration::hours(hours)
    }

    pub(crate) fn token(seed: u8) -> SurveyToken {
        SurveyToken::from_bytes([seed; 32])
    }

    pub(crate) fn due() -> SurveyDue {
        schedule(
            CaseId::from_instant(t(-48)),
            "c-1",
            "generic:glow-lab:4021",
            "agent:a-7",
            t(0),
            DEFAULT_DELAY,
            false,
        )
        .unwrap()
    }

    pub(crate) fn sent() -> Survey {
        Survey::due(&due())
            .send(&token(7), SurveyLanguage::ZhCn, false, t(24))
            .unwrap()
    }

    fn request(csat: Option<i64>, reason: Option<&str>, nps: Option<i64>) -> SurveyResponseRequest {
        SurveyResponseRequest {
            csat,
            comment: None,
            reason: reason.map(str::to_owned),
            nps,
        }
    }

    fn parse(
        csat: i64,
        reason: Option<&str>,
        nps: Option<i64>,
    ) -> Result<SurveyResponse, InvalidField> {
        SurveyResponse::parse(request(Some(csat), reason, nps))
    }

    fn five() -> SurveyResponse {
        parse(5, None, None).unwrap()
    }

    #[test]
    fn a_token_round_trips_and_only_its_own_spelling_parses() {
        let token = SurveyToken::from_bytes([0xfb; 32]);
        assert_eq!(token.as_str().len(), SurveyToken::CHARS);
        assert!(
            token
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe: {}",
            token.as_str()
        );
        assert_eq!(SurveyToken::parse(token.as_str()).unwrap(), token);
        assert_ne!(token, SurveyToken::from_bytes([0xfa; 32]));
        assert!(!format!("{token:?}").contains(token.as_str()));

        let long = format!("{}A", token.as_str());
        let short = &token.as_str()[1..];
        let standard_alphabet = token.as_str().replace(['-', '_'], "+");
        let padded = format!("{}=", &token.as_str()[..42]);
        // The 43rd character carries 2 unused bits: a spelling with them set is refused.
        let mut loose = token.as_str()[..42].to_owned();
        loose.push('B');
        let with_space = format!(" {}", &token.as_str()[1..]);
        for raw in [
            "",
            long.as_str(),
            short,
            standard_alphabet.as_str(),
            padded.as_str(),
            loose.as_str(),
            with_space.as_str(),
            "ééééééééééééééééééééé.",
        ] {
            let err = SurveyToken::parse(raw).unwrap_err();
            assert_eq!(err.field, "token", "{raw:?}");
        }
    }

    #[test]
    fn only_the_hash_is_kept_and_it_matches_its_token_alone() {
        let token = SurveyToken::from_bytes([0; 32]);
        assert_eq!(
            token.as_str(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        );
        let hash = token.hash();
        // sha256 of 43 "A"s.
        let expected: String = Sha256::digest(token.as_str().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash.as_str(), expected);
        assert_eq!(hash.as_str().len(), 64);
        assert!(hash.matches(&token));
        assert!(!hash.matches(&SurveyToken::from_bytes([1; 32])));
        assert_eq!(TokenHash::parse(hash.as_str()).unwrap(), hash);
        assert!(TokenHash::parse(&hash.as_str().to_uppercase()).is_err());
        assert!(TokenHash::parse(&hash.as_str()[1..]).is_err());
        assert_eq!(
            serde_json::from_value::<TokenHash>(serde_json::to_value(&hash).unwrap()).unwrap(),
            hash
        );
        assert!(serde_json::from_str::<TokenHash>("\"nope\"").is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn languages_from_locales() {
        for (locale, language) in [
            (Some("zh-CN"), SurveyLanguage::ZhCn),
            (Some("zh"), SurveyLanguage::ZhCn),
            (Some("zh_TW"), SurveyLanguage::ZhCn),
            (Some("ZH-hans-CN"), SurveyLanguage::ZhCn),
            (Some(" zh-cn "), SurveyLanguage::ZhCn),
            (None, SurveyLanguage::ZhCn),
            (Some(""), SurveyLanguage::ZhCn),
            (Some("en-US"), SurveyLanguage::En),
            (Some("en"), SurveyLanguage::En),
            (Some("fr-FR"), SurveyLanguage::En),
            (Some("zhx"), SurveyLanguage::En),
            (Some("-"), SurveyLanguage::En),
        ] {
            assert_eq!(SurveyLanguage::from_locale(locale), language, "{locale:?}");
        }
        assert_eq!(
            serde_json::to_value(SurveyLanguage::ZhCn).unwrap(),
            serde_json::json!("zh-CN")
        );
        assert_eq!(
            serde_json::from_str::<SurveyLanguage>("\"en\"").unwrap(),
            SurveyLanguage::En
        );
    }

    #[test]
    fn csat_is_one_to_five_and_four_or_five_is_satisfied() {
        for bad in [0, 6, -1, i64::MAX, i64::MIN, 256 + 3] {
            assert_eq!(parse(bad, None, None).unwrap_err().field, "csat", "{bad}");
        }
        let missing = SurveyResponse::parse(request(None, None, None)).unwrap_err();
        assert_eq!(missing.field, "csat");
        assert!(missing.reason.contains("required"));
        assert_eq!(parse(5, None, None).unwrap().csat.get(), 5);
        assert_eq!(parse(3, None, None).unwrap().csat.get(), 3);
        let one = parse(1, Some("slow_response"), None).unwrap();
        assert_eq!(
            (one.csat.get(), one.reason),
            (1, Some(SurveyReason::SlowResponse))
        );
        assert!(!one.is_satisfied());
        assert!(!parse(3, None, None).unwrap().is_satisfied());
        assert!(parse(4, None, None).unwrap().is_satisfied());
        assert!(five().is_satisfied());
    }

    #[test]
    fn a_reason_is_required_for_one_or_two_and_refused_above() {
        for score in [1, 2] {
            let err = parse(score, None, None).unwrap_err();
            assert_eq!(err.field, "reason");
            assert!(err.reason.contains("slow_response"), "{err}");
            assert!(parse(score, Some("other"), None).is_ok());
        }
        for score in [3, 4, 5] {
            assert_eq!(
                parse(score, Some("other"), None).unwrap_err().field,
                "reason"
            );
        }
        let unknown = parse(1, Some("too_expensive"), None).unwrap_err();
        assert_eq!(unknown.field, "reason");
        assert!(unknown.reason.contains("rude_or_unprofessional"));
        for reason in SurveyReason::ALL {
            assert_eq!(SurveyReason::parse(reason.as_str()), Some(reason));
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
    }

    #[test]
    fn nps_is_zero_to_ten_and_optional() {
        assert_eq!(parse(5, None, Some(-1)).unwrap_err().field, "nps");
        assert_eq!(parse(5, None, Some(11)).unwrap_err().field, "nps");
        assert_eq!(parse(5, None, Some(0)).unwrap().nps.map(Nps::get), Some(0));
        assert_eq!(
            parse(5, None, Some(10)).unwrap().nps.map(Nps::get),
            Some(10)
        );
        assert_eq!(parse(5, None, None).unwrap().nps, None);
    }

    #[test]
    fn a_comment_is_trimmed_and_at_most_a_thousand_characters() {
        let with = |comment: &str| {
            SurveyResponse::parse(SurveyResponseRequest {
                comment: Some(comment.to_owned()),
                ..request(Some(4), None, None)
            })
        };
        assert_eq!(
            with("  很好，谢谢！\n下次还来  ")
                .unwrap()
                .comment
                .as_deref(),
            Some("很好，谢谢！\n下次还来")
        );
        assert_eq!(with("   ").unwrap().comment, None);
        let thousand = "好".repeat(1000);
        assert_eq!(
            with(&format!(" {thousand} ")).unwrap().comment.as_deref(),
            Some(thousand.as_str())
        );
        let err = with(&"好".repeat(1001)).unwrap_err();
        assert_eq!((err.field, err.reason.contains("1000")), ("comment", true));
        assert_eq!(with("bell\u{7}").unwrap_err().field, "comment");
    }

    #[test]
    fn the_request_refuses_unknown_fields_and_the_stored_response_round_trips() {
        let body = r#"{"csat": 2, "reason": "remedy_unfair", "nps": 3, "comment": "slow"}"#;
        let request: SurveyResponseRequest = serde_json::from_str(body).unwrap();
        let response = SurveyResponse::parse(request).unwrap();
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"csat": 2, "reason": "remedy_unfair", "nps": 3, "comment": "slow"})
        );
        assert_eq!(
            serde_json::from_value::<SurveyResponse>(json).unwrap(),
            response
        );
        assert!(
            serde_json::from_str::<SurveyResponseRequest>(r#"{"csat": 5, "stars": 5}"#).is_err()
        );
        assert!(serde_json::from_str::<SurveyResponse>(r#"{"csat": 9}"#).is_err());
    }

    #[test]
    fn a_survey_is_due_a_day_after_resolution_unless_the_customer_opted_out() {
        let due = due();
        assert_eq!(due.due_at, t(24));
        assert_eq!(due.order_reference, "generic:glow-lab:4021");
        assert_eq!(due.resolved_by, "agent:a-7");
        assert_eq!(due.deduplication_id(), due.case_id.to_string());
        let json = serde_json::to_value(&due).unwrap();
        assert_eq!(json["case_id"], due.case_id.to_string());
        assert_eq!(json["order_reference"], "generic:glow-lab:4021");
        assert_eq!(serde_json::from_value::<SurveyDue>(json).unwrap(), due);

        let case_id = CaseId::from_instant(t(0));
        let at = |delay| schedule(case_id, "c", "o", "agent:a", t(0), delay, false);
        assert_eq!(
            at(Duration::minutes(90)).unwrap().due_at,
            t(0) + Duration::minutes(90)
        );
        assert_eq!(at(Duration::hours(-5)).unwrap().due_at, t(0));
        assert_eq!(at(Duration::MAX).unwrap().due_at, DateTime::<Utc>::MAX_UTC);
        assert_eq!(at(Duration::zero()).unwrap().due_at, t(0));
        assert_eq!(
            schedule(case_id, "c", "o", "agent:a", t(0), DEFAULT_DELAY, true),
            None
        );
    }

    #[test]
    fn the_delay_parameter_is_minutes() {
        assert_eq!(parse_delay_minutes("").unwrap(), DEFAULT_DELAY);
        assert_eq!(parse_delay_minutes(" 90 ").unwrap(), Duration::minutes(90));
        assert_eq!(parse_delay_minutes("0").unwrap(), Duration::zero());
        for bad in ["-1", "43201", "1.5", "24h"] {
            assert_eq!(
                parse_delay_minutes(bad).unwrap_err().field,
                "survey_delay_minutes"
            );
        }
    }

    #[test]
    fn a_survey_is_sent_once_and_not_after_opting_out() {
        let en = SurveyLanguage::En;
        let pending = Survey::due(&due());
        assert!(!pending.is_sent());
        assert_eq!(
            pending.send(&token(1), en, true, t(30)),
            Err(SurveyRefusal::OptedOut)
        );
        let sent = pending.send(&token(1), en, false, t(30)).unwrap();
        assert!(sent.is_sent());
        assert_eq!((sent.language, sent.language()), (Some(en), en));
        assert_eq!(pending.language(), SurveyLanguage::ZhCn);
        assert_eq!(sent.sent_at, Some(t(30)));
        assert_eq!(sent.expires_at, Some(t(30) + Duration::days(28)));
        assert!(sent.token_matches(&token(1)));
        assert!(!sent.token_matches(&token(2)));
        assert!(!pending.token_matches(&token(1)));
        assert_eq!(
            sent.send(&token(2), en, false, t(31)),
            Err(SurveyRefusal::AlreadySent)
        );
        // The webhook's link has a token of its own; either link is this survey's.
        let mut both = sent.clone();
        both.webhook_token_hash = Some(token(3).hash());
        assert!(both.token_matches(&token(1)) && both.token_matches(&token(3)));
        assert!(!both.token_matches(&token(4)));
        let mut webhook_only = Survey::due(&due());
        webhook_only.webhook_token_hash = Some(token(3).hash());
        webhook_only.sent_at = Some(t(30));
        webhook_only.expires_at = Some(t(30) + SURVEY_LIFETIME);
        assert!(webhook_only.is_sent() && webhook_only.token_matches(&token(3)));
        assert_eq!(
            webhook_only.send(&token(5), en, false, t(31)),
            Err(SurveyRefusal::AlreadySent)
        );
        let json = serde_json::to_value(&sent).unwrap();
        assert_eq!(json["token_hash"], token(1).hash().as_str());
        assert!(!json.to_string().contains(token(1).as_str()));
        assert_eq!(serde_json::from_value::<Survey>(json).unwrap(), sent);
    }

    #[test]
    fn an_answer_is_recorded_once_and_credited_to_the_resolver() {
        let sent = sent();
        let answered = answer(&sent, five(), t(30)).unwrap();
        assert_eq!(answered.response, Some(five()));
        assert_eq!(answered.answered_at, Some(t(30)));
        assert_eq!(answered.satisfied(), Some(true));
        assert_eq!(answered.resolved_by, "agent:a-7");
        assert_eq!(sent.satisfied(), None);
        let again = answer(&answered, five(), t(31)).unwrap_err();
        assert_eq!(again, SurveyRefusal::AlreadyAnswered);
        assert_eq!(
            (again.status(), again.code()),
            (409, "survey_already_answered")
        );
    }

    #[test]
    fn a_link_expires_exactly_twenty_eight_days_after_sending() {
        let sent = sent();
        let expires_at = t(24) + Duration::days(28);
        assert_eq!(sent.expires_at, Some(expires_at));
        let last_moment = expires_at - Duration::milliseconds(1);
        assert!(answer(&sent, five(), last_moment).is_ok());
        let expired = answer(&sent, five(), expires_at).unwrap_err();
        assert_eq!(expired, SurveyRefusal::Expired { expires_at });
        assert_eq!(expired.status(), 410);
        assert!(answer(&sent, five(), expires_at + Duration::days(400)).is_err());
        assert_eq!(sent.check_open(last_moment), Ok(()));
    }

    #[test]
    fn a_survey_never_sent_has_no_valid_link() {
        let pending = Survey::due(&due());
        let err = answer(&pending, five(), t(30)).unwrap_err();
        assert_eq!((err.clone(), err.status()), (SurveyRefusal::NotSent, 404));
        // A record with half of the sending recorded is not sent either.
        let mut half = sent();
        half.expires_at = None;
        assert_eq!(answer(&half, five(), t(30)), Err(SurveyRefusal::NotSent));
    }

    #[test]
    fn a_resolved_case_schedules_its_survey() {
        use crate::assessment::Assessment;
        use crate::case::{CaseDraft, NewCaseLine, NewCaseRequest};
        use crate::sla::SlaPolicy;
        use crate::workflow::Resolution;

        let draft = CaseDraft::parse(NewCaseRequest {
            order_id: "o".into(),
            lines: vec![NewCaseLine {
                sku: "SERUM-30".into(),
                quantity: 1,
            }],
            description: "leaking bottle".into(),
            opened: None,
        })
        .unwrap();
        let mut case = Case::open(
            draft,
            "c-9",
            Assessment::of_text("leaking bottle", &Default::default(), t(0)),
            t(0),
            &SlaPolicy::default(),
        );
        assert_eq!(schedule_for_case(&case, DEFAULT_DELAY, false), None);
        case.resolution = Some(Resolution {
            remedy: crate::remedy::Remedy::Replacement,
            amount_minor: None,
            refund_id: None,
            note: None,
            by: "agent:a-3".into(),
            at: t(5),
        });
        let due = schedule_for_case(&case, DEFAULT_DELAY, false).unwrap();
        assert_eq!(
            (
                due.case_id,
                due.customer_id.as_str(),
                due.order_reference.as_str(),
                due.resolved_by.as_str()
            ),
            (case.id, "c-9", "o", "agent:a-3")
        );
        assert_eq!(due.due_at, t(29));
        assert_eq!(schedule_for_case(&case, DEFAULT_DELAY, true), None);
    }

    #[test]
    fn a_claim_stands_for_its_lease_then_counts_as_abandoned() {
        assert_eq!(claimed_elsewhere(t(0), t(0)), ClaimedElsewhere::InFlight);
        let almost = t(0) + CLAIM_LEASE - Duration::milliseconds(1);
        assert_eq!(claimed_elsewhere(t(0), almost), ClaimedElsewhere::InFlight);
        assert_eq!(
            claimed_elsewhere(t(0), t(0) + CLAIM_LEASE),
            ClaimedElsewhere::Abandoned
        );
        assert!(
            CLAIM_LEASE > Duration::seconds(30),
            "longer than the function's timeout"
        );
        for outcome in [
            DispatchOutcome::Sent,
            DispatchOutcome::OptedOut,
            DispatchOutcome::Unreachable,
            DispatchOutcome::DeliveryUnknown,
        ] {
            assert_eq!(DispatchOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(DispatchOutcome::parse("lost"), None);
    }

    #[test]
    fn outcomes_and_answers_count_on_their_day_and_for_the_credited_agent() {
        let sent = sent();
        let day = t(30).date_naive();
        let period = metrics::day_period(day, &sent.case_id);
        assert_eq!(
            dispatch_counters(&sent.case_id, DispatchOutcome::OptedOut, t(30)),
            vec![CounterChange {
                series: metrics::SURVEYS.into(),
                period: period.clone(),
                adds: vec![("opted_out".into(), 1)],
            }]
        );
        assert!(answer_counters(&sent).is_empty(), "not answered yet");
        let response = SurveyResponse::parse(SurveyResponseRequest {
            csat: Some(2),
            reason: Some("slow_response".into()),
            nps: Some(9),
            comment: None,
        })
        .unwrap();
        let answered = answer(&sent, response, t(30)).unwrap();
        let changes = answer_counters(&answered);
        let adds = |series: &str| -> Vec<(String, i64)> {
            changes
                .iter()
                .find(|c| c.series == series)
                .map(|c| {
                    assert_eq!(c.period, period);
                    c.adds.clone()
                })
                .unwrap()
        };
        let owned = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
            pairs.iter().map(|(a, n)| (a.to_string(), *n)).collect()
        };
        assert_eq!(
            adds(metrics::SURVEYS),
            owned(&[
                ("answered", 1),
                ("satisfied", 0),
                ("csat_2", 1),
                ("nps_answers", 1),
                ("nps_promoters", 1),
                ("nps_detractors", 0),
                ("answered#agent:a-7", 1),
                ("satisfied#agent:a-7", 0),
                ("csat_sum#agent:a-7", 2),
            ])
        );
        let five = answer(&sent, five(), t(30)).unwrap();
        assert_eq!(
            answer_counters(&five)[0].adds,
            owned(&[
                ("answered", 1),
                ("satisfied", 1),
                ("csat_5", 1),
                ("answered#agent:a-7", 1),
                ("satisfied#agent:a-7", 1),
                ("csat_sum#agent:a-7", 5),
            ])
        );
    }
}
