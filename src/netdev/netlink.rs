//! The one rtnetlink request rrun makes: RTM_NEWLINK that moves a network interface into
//! another network namespace (by pid or by namespace fd) under a new name, and its
//! acknowledgement. Encoding and decoding are pure (unit-tested); `request` sends on a
//! NETLINK_ROUTE socket made with nix.

use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_NET_NS_FD: u16 = 28;

/// Where the interface goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The network namespace of this process.
    Pid(i32),
    /// The network namespace this fd is open on.
    NsFd(i32),
}

fn attr(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = 4 + data.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(out.len() + (4 - len % 4) % 4, 0);
}

/// RTM_NEWLINK for interface `index`: into `target`, renamed `name`.
pub fn move_message(seq: u32, index: i32, target: Target, name: &str) -> Vec<u8> {
    let mut body = Vec::new();
    // struct ifinfomsg: family, pad, type, index, flags, change.
    body.extend_from_slice(&[libc::AF_UNSPEC as u8, 0]);
    body.extend_from_slice(&0u16.to_ne_bytes());
    body.extend_from_slice(&index.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    body.extend_from_slice(&0u32.to_ne_bytes());
    match target {
        Target::Pid(pid) => attr(&mut body, IFLA_NET_NS_PID, &(pid as u32).to_ne_bytes()),
        Target::NsFd(fd) => attr(&mut body, IFLA_NET_NS_FD, &(fd as u32).to_ne_bytes()),
    }
    let mut ifname = name.as_bytes().to_vec();
    ifname.push(0);
    attr(&mut body, IFLA_IFNAME, &ifname);
    let mut msg = Vec::with_capacity(16 + body.len());
    msg.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend(body);
    msg
}

/// The errno of the acknowledgement of request `seq` (0: done); None if `reply` is not one.
pub fn ack_errno(reply: &[u8], seq: u32) -> Option<i32> {
    let u32_at = |i: usize| {
        reply
            .get(i..i + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u16_at = |i: usize| {
        reply
            .get(i..i + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    if u16_at(4)? != NLMSG_ERROR || u32_at(8)? != seq {
        return None;
    }
    let err = u32_at(16)? as i32;
    Some(-err)
}

/// A NETLINK_ROUTE socket in the calling thread's network namespace.
pub fn open() -> nix::Result<OwnedFd> {
    socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
}

/// Send `msg` (request `seq`) and wait for its acknowledgement.
pub fn request(sock: &OwnedFd, msg: &[u8], seq: u32) -> nix::Result<()> {
    send(sock.as_raw_fd(), msg, MsgFlags::empty())?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        match ack_errno(&buf[..n], seq) {
            Some(0) => return Ok(()),
            Some(e) => return Err(nix::Error::from_raw(e)),
            None => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_move_request_is_laid_out_as_the_kernel_reads_it() {
        let m = move_message(7, 3, Target::Pid(1234), "eth1");
        // 16 header + 16 ifinfomsg + 8 (pid attr) + 12 ("eth1\0" padded).
        assert_eq!(m.len(), 52);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 52);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), RTM_NEWLINK);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(i32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert_eq!(
            u16::from_ne_bytes(m[34..36].try_into().unwrap()),
            IFLA_NET_NS_PID
        );
        assert_eq!(u32::from_ne_bytes(m[36..40].try_into().unwrap()), 1234);
        assert_eq!(u16::from_ne_bytes(m[40..42].try_into().unwrap()), 9);
        assert_eq!(&m[44..49], b"eth1\0");
    }

    #[test]
    fn acks_and_errors_are_read() {
        let mut reply = vec![0u8; 36];
        reply[0..4].copy_from_slice(&36u32.to_ne_bytes());
        reply[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        reply[8..12].copy_from_slice(&5u32.to_ne_bytes());
        assert_eq!(ack_errno(&reply, 5), Some(0));
        reply[16..20].copy_from_slice(&(-libc::ENODEV).to_ne_bytes());
        assert_eq!(ack_errno(&reply, 5), Some(libc::ENODEV));
        assert_eq!(ack_errno(&reply, 6), None);
        assert_eq!(ack_errno(&reply[..10], 5), None);
    }
}
