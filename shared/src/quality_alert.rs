//! Batch quality alerts: when adverse-reaction and quality-defect cases of one batch add up.
