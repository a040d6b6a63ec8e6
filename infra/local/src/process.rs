//! Child processes the twin starts never outlive it.

use tokio::process::Command;

/// Asks the kernel to kill the child when the twin dies, however it dies (Ctrl-C is handled
/// in order; this covers `kill -9` and crashes).
pub fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}
