//! Refunds: the request a resolved case makes, the auto-approval policy, and finance's decisions.
