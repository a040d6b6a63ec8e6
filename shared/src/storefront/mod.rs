//! Storefront webhooks (in progress).
