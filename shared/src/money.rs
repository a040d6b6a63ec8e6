//! Money in integer minor units (in progress).
