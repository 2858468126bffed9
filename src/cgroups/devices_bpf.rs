//! Device rules on cgroup2: an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE, generated
//! from the [`DeviceState`] the rules leave, attached to the container's directory.
//!
//! The kernel runs the program on every open/mknod of a device node with
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`, where
//! `access_type` is `(access << 16) | type`; returning 1 allows, 0 denies (EPERM). The
//! program checks the exceptions one after the other, each block jumping to the next on the
//! first field that does not match, and returns the default at the end. The semantics are
//! those of the v1 devices controller: an allow exception matches a request whose every
//! access bit it allows; a deny exception matches a request asking for any bit it denies.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use super::devices::{DeviceRule, DeviceState};
use super::error::CgroupError;
use crate::sys::bpf::{
    self, Insn, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI, BPF_PROG_TYPE_CGROUP_DEVICE,
};

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const ALU64_MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// struct bpf_cgroup_dev_ctx values.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

// Registers: r1 holds the context, r2..r5 the fields, r1 is reused as scratch afterwards.
const R0: u8 = 0;
const R1: u8 = 1;
const R2_TYPE: u8 = 2;
const R3_ACCESS: u8 = 3;
const R4_MAJOR: u8 = 4;
const R5_MINOR: u8 = 5;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |bits, c| {
        bits | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// The instructions that check one exception; `fail` is a placeholder offset patched to
/// reach the next block.
fn exception_block(rule: &DeviceRule, default_allow: bool) -> Vec<Insn> {
    let mut block = Vec::new();
    let kind = if rule.kind == 'b' {
        DEV_BLOCK
    } else {
        DEV_CHAR
    };
    block.push(insn(JMP_JNE_K, R2_TYPE, 0, 0, kind));
    if let Some(major) = rule.major {
        block.push(insn(JMP_JNE_K, R4_MAJOR, 0, 0, major as i32));
    }
    if let Some(minor) = rule.minor {
        block.push(insn(JMP_JNE_K, R5_MINOR, 0, 0, minor as i32));
    }
    let bits = access_bits(&rule.access);
    block.push(insn(ALU64_MOV_X, R1, R3_ACCESS, 0, 0));
    if default_allow {
        // A deny exception: matches when the request asks for any denied bit.
        block.push(insn(ALU32_AND_K, R1, 0, 0, bits));
        block.push(insn(JMP_JEQ_K, R1, 0, 0, 0));
    } else {
        // An allow exception: matches when the request asks for nothing else.
        block.push(insn(ALU32_AND_K, R1, 0, 0, !bits & 0b111));
        block.push(insn(JMP_JNE_K, R1, 0, 0, 0));
    }
    block.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(!default_allow)));
    block.push(insn(JMP_EXIT, 0, 0, 0, 0));
    // Every conditional jump in the block goes to the instruction after it.
    let len = block.len();
    for (i, ins) in block.iter_mut().enumerate() {
        if ins.code == JMP_JNE_K || ins.code == JMP_JEQ_K {
            ins.off = (len - i - 1) as i16;
        }
    }
    block
}

/// The whole program for a device state.
pub fn program(state: &DeviceState) -> Vec<Insn> {
    let mut prog = vec![
        insn(LDX_MEM_W, R2_TYPE, R1, 0, 0),
        insn(ALU32_AND_K, R2_TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, R3_ACCESS, R1, 0, 0),
        insn(ALU32_RSH_K, R3_ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, R4_MAJOR, R1, 4, 0),
        insn(LDX_MEM_W, R5_MINOR, R1, 8, 0),
    ];
    for rule in &state.exceptions {
        prog.extend(exception_block(rule, state.default_allow));
    }
    prog.push(insn(ALU64_MOV_K, R0, 0, 0, i32::from(state.default_allow)));
    prog.push(insn(JMP_EXIT, 0, 0, 0, 0));
    prog
}

fn load(prog: &[Insn], dir: &Path) -> Result<OwnedFd, CgroupError> {
    let license = c"Apache-2.0";
    match bpf::prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, prog, license, None) {
        Ok(fd) => Ok(fd),
        Err(first) => {
            // Load again with the verifier's log, for the error message.
            let mut log = vec![0u8; 1 << 16];
            if let Ok(fd) =
                bpf::prog_load(BPF_PROG_TYPE_CGROUP_DEVICE, prog, license, Some(&mut log))
            {
                return Ok(fd);
            }
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err(CgroupError::BpfLoad {
                path: dir.to_path_buf(),
                log: String::from_utf8_lossy(&log[..end]).trim().to_string(),
                source: first,
            })
        }
    }
}

fn syscall_error(syscall: &'static str, dir: &Path, source: std::io::Error) -> CgroupError {
    CgroupError::Syscall {
        syscall,
        what: dir.display().to_string(),
        source,
    }
}

/// The device programs attached to a cgroup directory now.
fn attached(cgroup: &OwnedFd, dir: &Path) -> Result<Vec<OwnedFd>, CgroupError> {
    let mut ids = vec![0u32; 64];
    let count = bpf::prog_query(cgroup.as_fd(), BPF_CGROUP_DEVICE, &mut ids)
        .map_err(|e| syscall_error("bpf(BPF_PROG_QUERY)", dir, e))?;
    ids.truncate(count);
    ids.into_iter()
        .map(|id| {
            bpf::prog_fd_by_id(id).map_err(|e| syscall_error("bpf(BPF_PROG_GET_FD_BY_ID)", dir, e))
        })
        .collect()
}

/// Load the program for `state` and make it the only device program of `dir`: attach it
/// first, then detach the programs that were there, so that no moment is left unguarded.
pub fn install(dir: &Path, state: &DeviceState) -> Result<(), CgroupError> {
    let cgroup: OwnedFd = std::fs::File::open(dir)
        .map_err(|source| CgroupError::Dir {
            syscall: "open",
            path: dir.to_path_buf(),
            source,
        })?
        .into();
    let old = attached(&cgroup, dir)?;
    let prog = load(&program(state), dir)?;
    bpf::prog_attach(
        cgroup.as_fd(),
        prog.as_fd(),
        BPF_CGROUP_DEVICE,
        BPF_F_ALLOW_MULTI,
    )
    .map_err(|e| syscall_error("bpf(BPF_PROG_ATTACH)", dir, e))?;
    for old_prog in old {
        bpf::prog_detach(cgroup.as_fd(), old_prog.as_fd(), BPF_CGROUP_DEVICE)
            .map_err(|e| syscall_error("bpf(BPF_PROG_DETACH)", dir, e))?;
    }
    Ok(())
}

/// How many device programs are attached to `dir` (for tests and diagnostics).
pub fn attached_count(dir: &Path) -> Result<usize, CgroupError> {
    let cgroup: OwnedFd = std::fs::File::open(dir)
        .map_err(|source| CgroupError::Dir {
            syscall: "open",
            path: dir.to_path_buf(),
            source,
        })?
        .into();
    Ok(attached(&cgroup, dir)?.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::emulate;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.to_string(),
        }
    }

    /// Run the program on a context, as the kernel would (a tiny interpreter of the
    /// instructions the generator emits).
    fn run(prog: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> i64 {
        let ctx = [((access << 16) | kind) as u32, major, minor];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = i64::from(ctx[(i.off / 4) as usize]),
                ALU32_AND_K => r[dst] = (r[dst] as u32 & i.imm as u32) as i64,
                ALU32_RSH_K => r[dst] = ((r[dst] as u32) >> i.imm) as i64,
                ALU64_MOV_K => r[dst] = i64::from(i.imm),
                ALU64_MOV_X => r[dst] = r[src],
                JMP_JEQ_K if r[dst] == i64::from(i.imm) => pc += i.off as usize,
                JMP_JNE_K if r[dst] != i64::from(i.imm) => pc += i.off as usize,
                JMP_JEQ_K | JMP_JNE_K => {}
                JMP_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn whitelist_allows_only_listed_devices_and_access() {
        let state = emulate(&[
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(true, 'c', Some(136), None, "rw"),
            rule(true, 'b', None, None, "m"),
        ]);
        let p = program(&state);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 5), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 1, 3), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 136, 7), 0);
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 1);
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0);
    }

    #[test]
    fn blacklist_denies_any_listed_access() {
        let state = emulate(&[rule(false, 'c', Some(10), Some(229), "w")]);
        let p = program(&state);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 10, 229), 1);
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 10, 229), 0);
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 10, 228), 1);
    }

    #[test]
    fn allow_all_is_a_two_instruction_tail() {
        let p = program(&emulate(&[]));
        assert_eq!(p.len(), 8);
        assert_eq!(run(&p, DEV_BLOCK, ACC_WRITE, 8, 0), 1);
    }
}
