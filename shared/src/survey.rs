//! Satisfaction surveys: the link token, the questions, and what a valid answer is.
