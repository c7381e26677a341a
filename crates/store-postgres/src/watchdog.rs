//! Connections that notice a frozen database.
//!
//! A PostgreSQL server that is stopped (`SIGSTOP`), or cut off by a partition that still lets TCP
//! acknowledgements through, never answers and never closes: its `statement_timeout` cannot fire,
//! and the kernel keeps the socket alive, so a query would wait for the whole freeze while its
//! request holds an in-flight slot. Every pooled connection therefore runs over a [`Watched`]
//! socket, which counts the answers the server owes (one `ReadyForQuery` for each `Sync` or simple
//! `Query` sent, and for the start-up message) and fails the connection with an I/O error when the
//! server stays silent for longer than the reply limit while it owes one. The statement in flight
//! fails as `Unavailable` (503) and the pool replaces the connection. The limit is set above
//! `statement_timeout`, so a slow statement is cancelled by the server, with its own error, before
//! it is mistaken for a frozen one.
//!
//! The socket is opened lazily, on the first write, by the same future that tokio-postgres then
//! drives, so a connect error reaches the pool as tokio-postgres's own I/O error.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, Config, NoTls};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes the pool's connections over [`Watched`] sockets.
pub(crate) struct WatchedConnect {
    /// Longest silence while the server owes an answer.
    pub reply: Duration,
}

impl deadpool_postgres::Connect for WatchedConnect {
    fn connect(
        &self,
        cfg: &Config,
    ) -> BoxFuture<'_, Result<(Client, JoinHandle<()>), tokio_postgres::Error>> {
        let cfg = cfg.clone();
        let reply = self.reply;
        Box::pin(async move {
            let socket = Watched::new(Box::pin(open(cfg.clone())), reply);
            let (client, connection) = cfg.connect_raw(socket, NoTls).await?;
            let task = tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection ended");
                }
            });
            Ok((client, task))
        })
    }
}

/// A TCP or Unix-domain socket.
enum Socket {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

/// Connects to the first of the configuration's hosts that answers, each attempt bounded by its
/// `connect_timeout`. (Unlike tokio-postgres's own connect, `target_session_attrs` and load
/// balancing are not supported: authtrail needs a writable primary, named in the URL.)
async fn open(cfg: Config) -> io::Result<Socket> {
    let ports = cfg.get_ports();
    let port = |i: usize| match ports {
        [] => 5432,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(5432),
    };
    let limit = cfg.get_connect_timeout().copied();
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "the URL names no host");
    let addrs = cfg.get_hostaddrs();
    let hosts = cfg.get_hosts();
    let count = hosts.len().max(addrs.len());
    for i in 0..count {
        let attempt = async {
            match (addrs.get(i), hosts.get(i)) {
                (Some(ip), _) => tcp((*ip, port(i))).await,
                (None, Some(Host::Tcp(name))) => tcp((name.as_str(), port(i))).await,
                #[cfg(unix)]
                (None, Some(Host::Unix(dir))) => {
                    let path = dir.join(format!(".s.PGSQL.{}", port(i)));
                    UnixStream::connect(path).await.map(Socket::Unix)
                }
                _ => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "unsupported host kind",
                )),
            }
        };
        let result = match limit {
            Some(d) => tokio::time::timeout(d, attempt).await.unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting took longer than {d:?}"),
                ))
            }),
            None => attempt.await,
        };
        match result {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn tcp<A: tokio::net::ToSocketAddrs>(addr: A) -> io::Result<Socket> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(Socket::Tcp(s))
}

/// Where the socket is: being opened, or open.
enum State {
    Opening(BoxFuture<'static, io::Result<Socket>>),
    Open(Socket),
}

/// A socket that fails once the server owes an answer and has been silent for `limit`.
pub(crate) struct Watched {
    state: State,
    limit: Duration,
    /// Answers (`ReadyForQuery`) the server owes.
    owed: u32,
    sent: Frames,
    received: Frames,
    /// Armed while an answer is owed; pushed back by every byte that arrives.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl Watched {
    fn new(open: BoxFuture<'static, io::Result<Socket>>, limit: Duration) -> Watched {
        Watched {
            state: State::Opening(open),
            limit,
            owed: 0,
            // The start-up message is the only one without a type byte.
            sent: Frames::untyped_first(),
            received: Frames::typed(),
            deadline: None,
        }
    }

    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut Socket>> {
        if let State::Opening(fut) = &mut self.state {
            let socket = ready!(fut.as_mut().poll(cx))?;
            self.state = State::Open(socket);
        }
        match &mut self.state {
            State::Open(s) => Poll::Ready(Ok(s)),
            State::Opening(_) => unreachable!("opened above"),
        }
    }

    /// Arms the deadline if an answer is owed (registering the task's waker with it) and says
    /// whether it has passed.
    fn overdue(&mut self, cx: &mut Context<'_>) -> bool {
        if self.owed == 0 {
            self.deadline = None;
            return false;
        }
        let limit = self.limit;
        let d = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        d.as_mut().poll(cx).is_ready()
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = match ready!(this.poll_open(cx))? {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        };
        match polled {
            Poll::Ready(Ok(())) => {
                let owed = &mut this.owed;
                this.received
                    .feed(&buf.filled()[before..], |tag| match tag {
                        // ReadyForQuery settles one Sync or Query. CopyInResponse: the server
                        // ignores the Sync that came with the COPY (tokio-postgres sends another
                        // after the data).
                        b'Z' | b'G' => *owed = owed.saturating_sub(1),
                        _ => {}
                    });
                // Progress: the silence starts again.
                this.deadline = None;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.overdue(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "PostgreSQL did not answer within {:?} (frozen or cut off)",
                    this.limit
                ),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(match ready!(this.poll_open(cx))? {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        })?;
        let owed = &mut this.owed;
        this.sent.feed(&buf[..n], |tag| {
            // Start-up (no type byte), Sync and simple Query each get one ReadyForQuery.
            if matches!(tag, 0 | b'S' | b'Q') {
                *owed += 1;
            }
        });
        // Start the clock now: the task may be parked on a read that polled no deadline.
        let _ = this.overdue(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.get_mut().poll_open(cx))? {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.get_mut().poll_open(cx))? {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Finds message boundaries in one direction of the protocol: each message is a type byte (but
/// the client's first) and a big-endian length that counts itself.
#[derive(Debug)]
struct Frames {
    typed: bool,
    header: [u8; 5],
    have: usize,
    skip: u64,
}

impl Frames {
    fn typed() -> Frames {
        Frames {
            typed: true,
            header: [0; 5],
            have: 0,
            skip: 0,
        }
    }

    fn untyped_first() -> Frames {
        Frames {
            typed: false,
            ..Frames::typed()
        }
    }

    /// Calls `on_message` with the type byte (0 for the untyped first) of every message that
    /// starts in `bytes`.
    fn feed(&mut self, mut bytes: &[u8], mut on_message: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(bytes.len() as u64);
                self.skip -= n;
                bytes = &bytes[n as usize..];
                continue;
            }
            let need = if self.typed { 5 } else { 4 };
            let n = (need - self.have).min(bytes.len());
            self.header[self.have..self.have + n].copy_from_slice(&bytes[..n]);
            self.have += n;
            bytes = &bytes[n..];
            if self.have == need {
                let len = &self.header[need - 4..need];
                let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]);
                on_message(if self.typed { self.header[0] } else { 0 });
                self.skip = u64::from(len.saturating_sub(4));
                self.have = 0;
                self.typed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(f: &mut Frames, stream: &[u8], split: usize) -> Vec<u8> {
        let mut tags = Vec::new();
        f.feed(&stream[..split], |t| tags.push(t));
        f.feed(&stream[split..], |t| tags.push(t));
        tags
    }

    #[test]
    fn message_boundaries_are_found_across_any_split() {
        // Start-up (untyped, 8 bytes), then Parse('P', 3 bytes of body), Sync('S').
        let stream = [
            &[0, 0, 0, 8, 0, 3, 0, 0][..],
            &[b'P', 0, 0, 0, 7, 1, 2, 3],
            &[b'S', 0, 0, 0, 4],
        ]
        .concat();
        for split in 0..=stream.len() {
            let tags = messages(&mut Frames::untyped_first(), &stream, split);
            assert_eq!(tags, vec![0, b'P', b'S'], "split {split}");
        }
    }

    /// A server that accepts and then never answers: the start-up message is owed an answer,
    /// and the connection fails after the limit instead of waiting for ever.
    #[tokio::test]
    async fn a_silent_server_fails_the_connection_after_the_limit() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move { listener.accept().await });
        let mut cfg = Config::new();
        cfg.host("127.0.0.1").port(addr.port()).user("u");
        let connect = WatchedConnect {
            reply: Duration::from_millis(200),
        };
        // The bound only keeps a broken build from hanging; the limit is what ends the wait.
        let connected = tokio::time::timeout(
            Duration::from_secs(60),
            deadpool_postgres::Connect::connect(&connect, &cfg),
        )
        .await
        .expect("the watchdog ends the wait");
        let Err(e) = connected else {
            panic!("a silent server is an error")
        };
        let io = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<io::Error>())
            .map(io::Error::kind);
        assert_eq!(io, Some(io::ErrorKind::TimedOut), "{e}");
        drop(held);
    }
}
