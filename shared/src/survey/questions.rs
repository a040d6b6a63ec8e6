//! What `GET /surveys/{token}` shows: the questions in the customer's language, with the
//! values the answer must use, so the survey page (the brand's or our own) renders them
//! without a text catalogue of its own.

use serde::Serialize;

use super::{Csat, Nps, SurveyLanguage, SurveyReason, SurveyResponse};

/// The whole survey, in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyQuestions {
    pub language: SurveyLanguage,
    pub title: &'static str,
    pub intro: &'static str,
    pub csat: CsatQuestion,
    pub reason: ReasonQuestion,
    pub nps: NpsQuestion,
    pub comment: CommentQuestion,
    pub submit: &'static str,
    pub thanks: &'static str,
}

/// The rating: required, one of five labelled scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsatQuestion {
    /// The answer's JSON field.
    pub field: &'static str,
    pub prompt: &'static str,
    pub required: bool,
    /// 1 (very dissatisfied) to 5 (very satisfied).
    pub options: Vec<ScoreOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScoreOption {
    pub value: u8,
    pub label: &'static str,
}

/// What went wrong: shown, and then required, only for the scores in `shown_for_csat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonQuestion {
    pub field: &'static str,
    pub prompt: &'static str,
    pub shown_for_csat: Vec<u8>,
    pub required_when_shown: bool,
    pub options: Vec<ReasonOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonOption {
    pub value: SurveyReason,
    pub label: &'static str,
}

/// Likelihood to recommend, optional, from `min` to `max` with the two ends labelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NpsQuestion {
    pub field: &'static str,
    pub prompt: &'static str,
    pub required: bool,
    pub min: u8,
    pub max: u8,
    pub min_label: &'static str,
    pub max_label: &'static str,
}

/// Free text, optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentQuestion {
    pub field: &'static str,
    pub prompt: &'static str,
    pub required: bool,
    pub max_chars: usize,
}

/// The labels of the scores 1 to 5.
fn score_labels(language: SurveyLanguage) -> [&'static str; 5] {
    match language {
        SurveyLanguage::ZhCn => ["非常不满意", "不满意", "一般", "满意", "非常满意"],
        SurveyLanguage::En => [
            "Very dissatisfied",
            "Dissatisfied",
            "Neither satisfied nor dissatisfied",
            "Satisfied",
            "Very satisfied",
        ],
    }
}

/// The survey in `language`.
pub fn questions(language: SurveyLanguage) -> SurveyQuestions {
    let zh = language == SurveyLanguage::ZhCn;
    let text = |zh_cn: &'static str, en: &'static str| if zh { zh_cn } else { en };
    let options = (Csat::MIN..=Csat::MAX)
        .zip(score_labels(language))
        .map(|(value, label)| ScoreOption { value, label })
        .collect();
    SurveyQuestions {
        language,
        title: text("售后服务满意度调查", "How did we do?"),
        intro: text(
            "感谢您联系我们的售后服务。请花一分钟告诉我们本次服务的感受，您的评价将帮助我们改进。",
            "Thank you for contacting our after-sales service. Please take a minute to tell us \
             how it went; your answer helps us improve.",
        ),
        csat: CsatQuestion {
            field: "csat",
            prompt: text(
                "您对本次售后服务满意吗？",
                "How satisfied are you with the help you received?",
            ),
            required: true,
            options,
        },
        reason: ReasonQuestion {
            field: "reason",
            prompt: text("哪方面让您不满意？", "What went wrong?"),
            shown_for_csat: (Csat::MIN..=Csat::MAX)
                .filter(|score| Csat(*score).asks_for_reason())
                .collect(),
            required_when_shown: true,
            options: SurveyReason::ALL
                .into_iter()
                .map(|value| ReasonOption {
                    value,
                    label: value.label(language),
                })
                .collect(),
        },
        nps: NpsQuestion {
            field: "nps",
            prompt: text(
                "您有多大可能向朋友或家人推荐我们？（选填）",
                "How likely are you to recommend us to a friend or family member? (optional)",
            ),
            required: false,
            min: 0,
            max: Nps::MAX,
            min_label: text("完全不可能", "Not at all likely"),
            max_label: text("非常可能", "Extremely likely"),
        },
        comment: CommentQuestion {
            field: "comment",
            prompt: text(
                "还有什么想告诉我们的吗？（选填）",
                "Is there anything else you would like to tell us? (optional)",
            ),
            required: false,
            max_chars: SurveyResponse::MAX_COMMENT_CHARS,
        },
        submit: text("提交", "Send"),
        thanks: text("感谢您的反馈！", "Thank you for your feedback!"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_ask_the_same_questions_with_the_values_the_answer_takes() {
        for language in [SurveyLanguage::ZhCn, SurveyLanguage::En] {
            let survey = questions(language);
            let json = serde_json::to_value(&survey).unwrap();
            assert_eq!(json["language"], language.as_str());
            let scores: Vec<_> = survey.csat.options.iter().map(|o| o.value).collect();
            assert_eq!(scores, [1, 2, 3, 4, 5]);
            assert!(survey.csat.options.iter().all(|o| !o.label.is_empty()));
            assert!(survey.csat.required);
            assert_eq!(survey.reason.shown_for_csat, [1, 2]);
            assert_eq!(survey.reason.options.len(), SurveyReason::ALL.len());
            assert_eq!(json["reason"]["options"][0]["value"], "slow_response");
            assert_eq!(
                (survey.nps.min, survey.nps.max, survey.nps.required),
                (0, 10, false)
            );
            assert_eq!(survey.comment.max_chars, 1000);
            assert_eq!(json["csat"]["field"], "csat");
        }
        let zh = questions(SurveyLanguage::ZhCn);
        let en = questions(SurveyLanguage::En);
        assert_eq!(zh.csat.options[4].label, "非常满意");
        assert_eq!(en.csat.options[0].label, "Very dissatisfied");
        assert_eq!(zh.reason.options[2].label, "处理方案不合理");
        assert_ne!(zh.title, en.title);
    }
}
