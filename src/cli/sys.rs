//! Process setup that needs libc.

/// Let a closed output pipe end the process quietly, as it does for other Unix tools, instead
/// of turning every later `println!` into a panic (Rust ignores SIGPIPE by default).
pub fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL at startup, before any thread exists,
    // has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
