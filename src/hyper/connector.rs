//! [`Connector`]: the TCP connector of hyper-util's pooled client
//! (`hyper_util::client::legacy::Client`), on [`crate::net::TcpStream`].
//!
//! hyper-util's own `HttpConnector` runs on tokio's reactor, so a ringtide program
//! passes this one to `Client::builder(..).build(connector)` instead. It is a
//! `tower_service::Service<Uri>`: for each new connection the client calls it with the
//! request's URI; it takes the host and port (80 by default), resolves the host on the
//! blocking pool when it is a name ([`crate::net::lookup_host`]), tries each address
//! in turn until one accepts, and hands back the stream as an [`Io`], which
//! implements hyper-util's `Connection` (nothing to report: no proxy, no ALPN; plain
//! TCP negotiates no HTTP/2, so h2c needs the client's `http2_only(true)`).
//!
//! Errors are `io::Error`s that say what was wrong: a URI without a host, a scheme
//! other than `http` (TLS belongs in a wrapping connector; see
//! [`Connector::enforce_http`]), a connect timeout, or the last address's connect
//! error.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use ::hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};

use super::Io;
use crate::net::TcpStream;

/// Opens TCP connections for hyper-util's pooled client.
///
/// ```
/// # #[cfg(feature = "hyper")]
/// # fn build() {
/// use ringtide::hyper::{Connector, Executor, Timer};
/// use hyper_util::client::legacy::Client;
///
/// let client: Client<Connector, String> = Client::builder(Executor::new())
///     .timer(Timer::new())
///     .pool_timer(Timer::new())
///     .build(Connector::new());
/// # let _ = client;
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Connector {
    nodelay: bool,
    enforce_http: bool,
    connect_timeout: Option<Duration>,
}

impl Default for Connector {
    fn default() -> Connector {
        Connector::new()
    }
}

impl Connector {
    /// A connector with `TCP_NODELAY` on, only `http` URIs, and no connect timeout.
    pub fn new() -> Connector {
        Connector {
            nodelay: true,
            enforce_http: true,
            connect_timeout: None,
        }
    }

    /// Sets `TCP_NODELAY` on new connections (default `true`: HTTP writes whole
    /// messages, so Nagle's algorithm only adds latency).
    pub fn set_nodelay(&mut self, nodelay: bool) -> &mut Connector {
        self.nodelay = nodelay;
        self
    }

    /// Whether URIs other than `http://` are refused (default `true`). A TLS
    /// connector that wraps this one turns it off: then an `https` URI connects to
    /// port 443 by default, and the TLS layer does the rest.
    pub fn enforce_http(&mut self, enforce: bool) -> &mut Connector {
        self.enforce_http = enforce;
        self
    }

    /// Gives up on a connection attempt (over all of the host's addresses, name
    /// resolution included) after `timeout`; `None` (the default) waits as long as the
    /// kernel does.
    pub fn set_connect_timeout(&mut self, timeout: Option<Duration>) -> &mut Connector {
        self.connect_timeout = timeout;
        self
    }

    /// Where `uri` points: its host (without an IPv6 literal's brackets) and port.
    fn destination(&self, uri: &Uri) -> io::Result<(String, u16)> {
        let scheme = uri.scheme_str();
        let default_port = match scheme {
            Some("http") => 80,
            Some("https") if !self.enforce_http => 443,
            Some(other) if self.enforce_http => {
                return Err(invalid(format!(
                    "ringtide::hyper::Connector connects plain http only, not {other:?} \
                     (a TLS connector wrapping it calls `enforce_http(false)`): {uri}"
                )));
            }
            Some(_) | None => match uri.port_u16() {
                Some(_) => 0,
                None => {
                    return Err(invalid(format!(
                        "the URI has neither a known scheme nor a port: {uri}"
                    )));
                }
            },
        };
        let host = uri
            .host()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| invalid(format!("the URI has no host to connect to: {uri}")))?;
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        Ok((host.to_owned(), uri.port_u16().unwrap_or(default_port)))
    }

    async fn connect(self, uri: Uri) -> io::Result<Io<TcpStream>> {
        let (host, port) = self.destination(&uri)?;
        let connecting = TcpStream::connect((host.as_str(), port));
        let stream = match self.connect_timeout {
            Some(limit) => crate::time::timeout(limit, connecting)
                .await
                .map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("connecting to {host}:{port} took longer than {limit:?}"),
                    )
                })??,
            None => connecting.await?,
        };
        stream.set_nodelay(self.nodelay)?;
        Ok(Io::new(stream))
    }
}

/// The future of one [`Connector`] call.
pub struct Connecting {
    future: Pin<Box<dyn Future<Output = io::Result<Io<TcpStream>>> + Send>>,
}

impl fmt::Debug for Connecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connecting").finish_non_exhaustive()
    }
}

impl Future for Connecting {
    type Output = io::Result<Io<TcpStream>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx)
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Io<TcpStream>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        Connecting {
            future: Box::pin(self.clone().connect(uri)),
        }
    }
}

impl Connection for Io<TcpStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(unix)]
impl Connection for Io<crate::net::UnixStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(connector: &Connector, uri: &str) -> io::Result<(String, u16)> {
        connector.destination(&uri.parse::<Uri>().unwrap())
    }

    #[test]
    fn destinations() {
        let connector = Connector::new();
        assert_eq!(
            destination(&connector, "http://example.test/path").unwrap(),
            ("example.test".to_owned(), 80)
        );
        assert_eq!(
            destination(&connector, "http://127.0.0.1:8080/").unwrap(),
            ("127.0.0.1".to_owned(), 8080)
        );
        assert_eq!(
            destination(&connector, "http://[::1]:9/").unwrap(),
            ("::1".to_owned(), 9)
        );
        let mut tls = Connector::new();
        tls.enforce_http(false);
        assert_eq!(
            destination(&tls, "https://example.test/").unwrap(),
            ("example.test".to_owned(), 443)
        );
    }

    #[test]
    fn bad_uris_are_errors_that_say_why() {
        let connector = Connector::new();
        let https = destination(&connector, "https://example.test/").unwrap_err();
        assert_eq!(https.kind(), io::ErrorKind::InvalidInput);
        assert!(https.to_string().contains("plain http only"), "{https}");
        let no_host = destination(&connector, "/just/a/path").unwrap_err();
        assert!(
            no_host
                .to_string()
                .contains("neither a known scheme nor a port"),
            "{no_host}"
        );
        let mut loose = Connector::new();
        loose.enforce_http(false);
        let no_port = destination(&loose, "gopher://example.test/").unwrap_err();
        assert!(no_port.to_string().contains("neither"), "{no_port}");
    }
}
