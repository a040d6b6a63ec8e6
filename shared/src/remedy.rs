//! Remedy matching (in progress).
