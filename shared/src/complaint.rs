//! What a complaint is about: the vocabulary classification and remedy matching share.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The problem a customer reports. When a text names several, the most serious wins (the
/// order of [`Category::BY_SERIOUSNESS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Skin reaction, allergy (过敏), irritation after use.
    AdverseReaction,
    /// The product may not be genuine.
    CounterfeitSuspected,
    /// Past or near its expiry date (at delivery or in use within shelf life).
    ExpiredOrNearExpiry,
    /// Defect of the product itself: separated, smells off, broken pump, contamination.
    QualityDefect,
    /// Arrived broken or leaking (a serum bottle after a rough delivery).
    DamagedInTransit,
    /// A different product or shade than ordered.
    WrongItem,
    /// Something ordered did not arrive.
    MissingItem,
    /// Not what the customer expected, including the 7-day no-reason return.
    NotAsExpected,
    /// A question: ingredients, usage, skin type, policy, shelf life.
    Inquiry,
}

impl Category {
    /// Most serious first: what wins when one text names several problems.
    pub const BY_SERIOUSNESS: [Category; 9] = [
        Category::AdverseReaction,
        Category::CounterfeitSuspected,
        Category::ExpiredOrNearExpiry,
        Category::QualityDefect,
        Category::DamagedInTransit,
        Category::WrongItem,
        Category::MissingItem,
        Category::NotAsExpected,
        Category::Inquiry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::AdverseReaction => "adverse_reaction",
            Category::CounterfeitSuspected => "counterfeit_suspected",
            Category::ExpiredOrNearExpiry => "expired_or_near_expiry",
            Category::QualityDefect => "quality_defect",
            Category::DamagedInTransit => "damaged_in_transit",
            Category::WrongItem => "wrong_item",
            Category::MissingItem => "missing_item",
            Category::NotAsExpected => "not_as_expected",
            Category::Inquiry => "inquiry",
        }
    }

    pub fn parse(raw: &str) -> Option<Category> {
        Category::BY_SERIOUSNESS
            .into_iter()
            .find(|c| c.as_str() == raw)
    }

    /// Quality claims are separate from the no-reason return: opening the product does not
    /// void them, and they stand beyond 7 days while the product is within its shelf life.
    pub fn is_quality_claim(self) -> bool {
        matches!(
            self,
            Category::DamagedInTransit
                | Category::AdverseReaction
                | Category::QualityDefect
                | Category::ExpiredOrNearExpiry
                | Category::WrongItem
                | Category::MissingItem
        )
    }

    /// Claims proven by a photo: the damage, the reaction, the defect.
    pub fn needs_photo(self) -> bool {
        matches!(
            self,
            Category::DamagedInTransit | Category::AdverseReaction | Category::QualityDefect
        )
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How fast a case must move. Urgent: an adverse reaction with swelling of face, eyes or lips,
/// breathing trouble, blisters, a hospital visit, or a baby or child affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    Urgent,
}

/// Why a case must be handled first although it is not urgent by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFlag {
    /// Threatens exposure: 12315, the consumer association, social media, press, a lawyer.
    PublicOpinion,
    /// The customer has complained before (see the classifier's context).
    RepeatComplainant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_round_trip_through_their_names() {
        for category in Category::BY_SERIOUSNESS {
            assert_eq!(Category::parse(category.as_str()), Some(category));
            assert_eq!(serde_json::to_value(category).unwrap(), category.as_str());
        }
        assert_eq!(Category::parse("nonsense"), None);
    }

    #[test]
    fn quality_claims_and_photo_evidence() {
        assert!(Category::AdverseReaction.is_quality_claim());
        assert!(Category::MissingItem.is_quality_claim());
        assert!(!Category::NotAsExpected.is_quality_claim());
        assert!(!Category::Inquiry.is_quality_claim());
        assert!(Category::DamagedInTransit.needs_photo());
        assert!(!Category::WrongItem.needs_photo());
    }
}
