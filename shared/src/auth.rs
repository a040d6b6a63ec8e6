//! Who is calling, from the claims API Gateway's JWT authorizer has already verified.
//!
//! The function never sees the token itself: the HTTP API checks signature, issuer, audience and
//! expiry, and hands over the claims in `requestContext.authorizer.jwt.claims`. We read `sub` (the
//! customer or staff id) and `role`.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The claim that carries the caller's role.
pub const ROLE_CLAIM: &str = "role";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customer,
    Agent,
    Expert,
    Supervisor,
    Finance,
    /// The brand's payment integration, reporting payouts back (`POST /refunds/{id}/settlement`):
    /// a machine client with a token of its own, not a member of staff.
    PaymentIntegration,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Customer,
        Role::Agent,
        Role::Expert,
        Role::Supervisor,
        Role::Finance,
        Role::PaymentIntegration,
    ];

    pub fn parse(raw: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Agent => "agent",
            Role::Expert => "expert",
            Role::Supervisor => "supervisor",
            Role::Finance => "finance",
            Role::PaymentIntegration => "payment_integration",
        }
    }

    /// Service staff work cases: they see every case and the work queues.
    pub fn is_case_staff(self) -> bool {
        matches!(self, Role::Agent | Role::Expert | Role::Supervisor)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The authenticated caller of an API route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    pub role: Role,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("the request carries no verified identity")]
    Unauthenticated,
    #[error("the token's role claim is missing or unknown")]
    UnknownRole,
}

impl Caller {
    pub fn from_claims(claims: &HashMap<String, String>) -> Result<Caller, AuthError> {
        let subject = claims
            .get("sub")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty() && s.len() <= 128)
            .ok_or(AuthError::Unauthenticated)?;
        let role = claims
            .get(ROLE_CLAIM)
            .and_then(|raw| Role::parse(raw))
            .ok_or(AuthError::UnknownRole)?;
        Ok(Caller {
            subject: subject.to_owned(),
            role,
        })
    }

    /// A case is visible to its owner and to service staff; to anyone else it does not exist.
    pub fn may_see_case_of(&self, customer_id: &str) -> bool {
        self.role.is_case_staff() || (self.role == Role::Customer && self.subject == customer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_subject_and_role() {
        let caller = Caller::from_claims(&claims(&[("sub", "c-1"), ("role", "customer")])).unwrap();
        assert_eq!(caller.subject, "c-1");
        assert_eq!(caller.role, Role::Customer);
    }

    #[test]
    fn every_role_reads_back_from_its_claim() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        let integration = Caller::from_claims(&claims(&[
            ("sub", "payments-1"),
            ("role", "payment_integration"),
        ]))
        .unwrap();
        assert_eq!(integration.role, Role::PaymentIntegration);
    }

    #[test]
    fn refuses_missing_subject_and_unknown_role() {
        assert_eq!(
            Caller::from_claims(&claims(&[("role", "agent")])),
            Err(AuthError::Unauthenticated)
        );
        assert_eq!(
            Caller::from_claims(&claims(&[("sub", "a-1"), ("role", "admin")])),
            Err(AuthError::UnknownRole)
        );
        assert_eq!(
            Caller::from_claims(&claims(&[("sub", "a-1")])),
            Err(AuthError::UnknownRole)
        );
    }

    #[test]
    fn only_owner_and_case_staff_see_a_case() {
        let owner = Caller {
            subject: "c-1".into(),
            role: Role::Customer,
        };
        let other = Caller {
            subject: "c-2".into(),
            role: Role::Customer,
        };
        let finance = Caller {
            subject: "c-1".into(),
            role: Role::Finance,
        };
        assert!(owner.may_see_case_of("c-1"));
        assert!(!other.may_see_case_of("c-1"));
        assert!(
            !finance.may_see_case_of("c-1"),
            "finance works refunds, not cases"
        );
        let payments = Caller {
            subject: "c-1".into(),
            role: Role::PaymentIntegration,
        };
        assert!(!payments.may_see_case_of("c-1"));
        assert!(!Role::PaymentIntegration.is_case_staff());
        for role in [Role::Agent, Role::Expert, Role::Supervisor] {
            assert!(
                Caller {
                    subject: "s".into(),
                    role
                }
                .may_see_case_of("c-1")
            );
        }
    }
}
