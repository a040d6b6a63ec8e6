//! Photo evidence as it arrives: what a file really is, and the same file without its metadata.
