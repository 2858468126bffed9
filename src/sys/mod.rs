//! Every `unsafe` block of librrun, behind small safe functions grouped by concern. The rest
//! of the crate denies unsafe code (lib.rs), so soundness is reviewed here and only here.
//!
//! These are the system calls that neither std nor nix wraps safely (or at all), and the few
//! nix calls that nix itself leaves unsafe (fork, signal dispositions). Each public function
//! can be called with any arguments; where soundness also rests on something the types cannot
//! say (a single-threaded process for fork, fds that no `OwnedFd` holds for close_range), its
//! doc says what and why it holds for rrun. The few `unsafe fn` helpers are private to sys and
//! state their contract under `# Safety`. Every unsafe block carries a `SAFETY:` comment
//! (clippy's `undocumented_unsafe_blocks` is denied). Errors are the kernel's errno
//! (`nix::Result`, or `std::io::Result` in bpf.rs, whose caller keeps io errors); the callers
//! add what the call was for.

// An unsafe fn's body is not one big unsafe block: each unsafe operation in it gets its own
// block and SAFETY comment.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bpf;
pub mod caps;
pub mod fd;
pub mod fs;
pub mod keyring;
pub mod mempolicy;
pub mod mount;
pub mod ns;
pub mod process;
pub mod sched;
pub mod seccomp;
pub mod signal;
pub mod socket;
pub mod tty;
pub mod uts;
