//! The accept queue of a listening TCP socket, read through `sock_diag` netlink (what `ss -ltn`
//! shows as Recv-Q and Send-Q): how many connections wait to be accepted, and the backlog the
//! server passed to `listen()` (capped by `net.core.somaxconn`).

use std::mem::size_of;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const TCP_LISTEN: u32 = 10;
/// Most netlink replies read for one query: a dump of listeners is a few messages.
const MAX_REPLIES: usize = 64;

/// One listening socket's accept queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptQueue {
    /// Connections the kernel completed that the server has not accepted yet.
    pub queued: u32,
    /// The queue's limit: the `listen()` backlog, as the kernel applies it.
    pub backlog: u32,
}

/// `struct inet_diag_sockid`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SockId {
    sport: [u8; 2],
    dport: [u8; 2],
    src: [u32; 4],
    dst: [u32; 4],
    interface: u32,
    cookie: [u32; 2],
}

/// `struct inet_diag_req_v2`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Request {
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    id: SockId,
}

/// `struct inet_diag_msg`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Reply {
    family: u8,
    state: u8,
    timer: u8,
    retrans: u8,
    id: SockId,
    expires: u32,
    rqueue: u32,
    wqueue: u32,
    uid: u32,
    inode: u32,
}

#[repr(C)]
struct Message {
    header: libc::nlmsghdr,
    request: Request,
}

/// The accept queue of the TCP listener on `addr`'s port (any bound address; an IPv6 socket
/// bound to `::` serves IPv4 clients too, so both families are asked), or why it could not be read.
pub fn accept_queue(addr: SocketAddr) -> Result<AcceptQueue, String> {
    let (first, second) = if addr.is_ipv4() {
        (libc::AF_INET, libc::AF_INET6)
    } else {
        (libc::AF_INET6, libc::AF_INET)
    };
    match listener_of(first, addr.port())? {
        Some(q) => Ok(q),
        None => listener_of(second, addr.port())?
            .ok_or_else(|| format!("no TCP listener on port {} in this namespace", addr.port())),
    }
}

/// The listener on `port` among the sockets of `family`.
fn listener_of(family: i32, port: u16) -> Result<Option<AcceptQueue>, String> {
    let fd = open()?;
    let message = Message {
        header: libc::nlmsghdr {
            nlmsg_len: size_of::<Message>() as u32,
            nlmsg_type: SOCK_DIAG_BY_FAMILY,
            nlmsg_flags: (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16,
            nlmsg_seq: 1,
            nlmsg_pid: 0,
        },
        request: Request {
            family: family as u8,
            protocol: libc::IPPROTO_TCP as u8,
            states: 1 << TCP_LISTEN,
            ..Request::default()
        },
    };
    // SAFETY: `message` is a plain `repr(C)` value; the length is its size.
    let sent = unsafe {
        libc::send(
            fd.as_raw_fd(),
            (&message as *const Message).cast(),
            size_of::<Message>(),
            0,
        )
    };
    if sent < 0 {
        return Err(format!(
            "sock_diag send: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut found = None;
    let mut buf = vec![0u8; 32 * 1024];
    for _ in 0..MAX_REPLIES {
        // SAFETY: `buf` is writable for its whole length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(format!(
                "sock_diag recv: {}",
                std::io::Error::last_os_error()
            ));
        }
        match walk(&buf[..n as usize], port, &mut found) {
            Walk::More => continue,
            Walk::Done => break,
            Walk::Error(e) => return Err(e),
        }
    }
    Ok(found)
}

enum Walk {
    More,
    Done,
    Error(String),
}

/// Reads the netlink messages in `buf`, keeping the listener on `port`.
fn walk(buf: &[u8], port: u16, found: &mut Option<AcceptQueue>) -> Walk {
    let header_len = size_of::<libc::nlmsghdr>();
    let mut at = 0;
    while at + header_len <= buf.len() {
        // SAFETY: at least a header's worth of bytes remains; read_unaligned copes with alignment.
        let h: libc::nlmsghdr = unsafe { std::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
        let len = h.nlmsg_len as usize;
        if len < header_len || at + len > buf.len() {
            return Walk::Error("sock_diag: a truncated reply".into());
        }
        match i32::from(h.nlmsg_type) {
            libc::NLMSG_DONE => return Walk::Done,
            libc::NLMSG_ERROR => {
                // SAFETY: an error message carries a signed errno right after its header.
                let errno: i32 =
                    unsafe { std::ptr::read_unaligned(buf[at + header_len..].as_ptr().cast()) };
                return Walk::Error(format!(
                    "sock_diag: {}",
                    std::io::Error::from_raw_os_error(-errno)
                ));
            }
            _ if h.nlmsg_type == SOCK_DIAG_BY_FAMILY && len >= header_len + size_of::<Reply>() => {
                // SAFETY: the message holds a whole `inet_diag_msg` after its header.
                let r: Reply =
                    unsafe { std::ptr::read_unaligned(buf[at + header_len..].as_ptr().cast()) };
                if u16::from_be_bytes(r.id.sport) == port && found.is_none() {
                    *found = Some(AcceptQueue {
                        queued: r.rqueue,
                        backlog: r.wqueue,
                    });
                }
            }
            _ => {}
        }
        // Messages are aligned to 4 bytes.
        at += (len + 3) & !3;
    }
    Walk::More
}

/// A netlink `sock_diag` socket that gives up on a reply after one second.
fn open() -> Result<OwnedFd, String> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(format!(
            "sock_diag socket: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let timeout = Duration::from_secs(1);
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a valid timeval and the length is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(format!(
            "sock_diag SO_RCVTIMEO: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_backlog_and_the_queue_of_a_listener() {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().expect("addr").into())
            .expect("bind");
        socket.listen(5).expect("listen");
        let addr = socket
            .local_addr()
            .expect("local")
            .as_socket()
            .expect("inet");
        let clients: Vec<_> = (0..3)
            .map(|_| std::net::TcpStream::connect(addr).expect("connect"))
            .collect();
        let q = accept_queue(addr).expect("sock_diag answers");
        assert_eq!(
            q,
            AcceptQueue {
                queued: 3,
                backlog: 5
            }
        );
        drop(clients);
        let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = unused.local_addr().expect("local").port();
        drop(unused);
        let missing = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(accept_queue(missing).is_err());
    }
}
