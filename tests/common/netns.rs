//! Glue for tests that need the kernel: the library's namespaces (`shoal::netns`), and a skip
//! with a printed reason where the test cannot run.

#![allow(dead_code, unused_imports)]

pub use shoal::netns::{NetNs, run, unique};

/// True (and says why) when the process may not create namespaces, so the test is skipped.
pub fn skip_unless_root(test: &str) -> bool {
    if shoal::netns::is_root() {
        return false;
    }
    eprintln!("skipping {test}: needs root (network namespaces, veth, XDP)");
    true
}
