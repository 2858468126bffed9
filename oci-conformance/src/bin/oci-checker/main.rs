//! oci-checker: the process run inside conformance-test containers.
//!
//! It observes the container from inside and prints one JSON document on stdout.
//! It is linked statically (see .cargo/config.toml) because the test root
//! filesystems hold nothing but busybox and this binary.
//!
//! Subcommands:
//!   report [ARGS...]       process identity, caps, rlimits, namespaces, mounts...
//!   stat PATH...           type, mode, owner, device numbers of each path
//!   read PATH              file contents
//!   write PATH             try to create/write PATH
//!   open PATH              try to open PATH read-write (devices)
//!   syscall NAME [ARG]     try one syscall (for seccomp tests)
//!   fds                    open file descriptors
//!   mempolicy              the NUMA memory policy (get_mempolicy)
//!   sigwait READY RESULT   block signals, create READY, write the first signal to RESULT
//!   exit CODE              exit with CODE

mod observe;
mod probes;

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: oci-checker report|stat PATH...|read PATH|write PATH|open PATH|syscall NAME [ARG]|fds|mempolicy|sigwait READY RESULT|exit CODE");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        return usage();
    };
    let rest = &args[1..];
    let doc = match (cmd.as_str(), rest) {
        ("report", _) => observe::report(),
        ("stat", paths) if !paths.is_empty() => probes::stat_paths(paths),
        ("read", [path]) => probes::read_path(path),
        ("write", [path]) => probes::write_path(path),
        ("open", [path]) => probes::open_path(path),
        ("syscall", [name]) => probes::try_syscall(name, None),
        ("syscall", [name, arg]) => probes::try_syscall(name, Some(arg)),
        ("fds", []) => probes::open_fds(),
        ("mempolicy", []) => probes::mempolicy(),
        ("sigwait", [ready, result]) => return probes::sigwait(ready, result),
        ("exit", [code]) => {
            return match code.parse::<u8>() {
                Ok(c) => ExitCode::from(c),
                Err(_) => usage(),
            }
        }
        _ => return usage(),
    };
    println!("{doc}");
    ExitCode::SUCCESS
}
