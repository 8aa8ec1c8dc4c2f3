//! Zero-copy views over frame bytes (filled in by the wire work).
