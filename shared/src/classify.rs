//! Classification of complaints (in progress).
