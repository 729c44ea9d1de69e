//! [`ToSocketAddrs`] and [`lookup_host`]: turning what users pass to `bind`/`connect`
//! into socket addresses without blocking a worker.
//!
//! Addresses that are already IPs resolve at once; host names go to the blocking pool
//! (`getaddrinfo` blocks), as tokio does.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Anything `bind`, `connect`, `send_to` and [`lookup_host`] accept as an address:
/// socket addresses, `(ip, port)` pairs, `"host:port"` strings and `(host, port)`
/// pairs. Sealed: the resolution is this crate's business.
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::*;

    /// How an address resolves.
    #[derive(Debug)]
    pub enum Resolution {
        /// Already resolved.
        Ready(Vec<SocketAddr>),
        /// A host name to look up on the blocking pool (`host:port` or `(host, port)`).
        Lookup(String, Option<u16>),
    }

    /// The resolution step behind [`ToSocketAddrs`].
    pub trait Sealed {
        /// Resolves without blocking, or says what to look up.
        #[doc(hidden)]
        fn resolution(&self) -> Resolution;
    }
}

use sealed::Resolution;

/// Resolves `address` to its socket addresses (at least one, or an error).
pub(crate) async fn resolve(address: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let addresses = match address.resolution() {
        Resolution::Ready(addresses) => addresses,
        Resolution::Lookup(host, port) => blocking_lookup(host, port).await?,
    };
    if addresses.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        ));
    }
    Ok(addresses)
}

fn blocking_lookup(
    host: String,
    port: Option<u16>,
) -> impl Future<Output = io::Result<Vec<SocketAddr>>> {
    let joined = crate::task::spawn_blocking(move || {
        let found: Vec<SocketAddr> = match port {
            Some(port) => {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?.collect()
            }
            None => std::net::ToSocketAddrs::to_socket_addrs(host.as_str())?.collect(),
        };
        Ok(found)
    });
    async move {
        joined
            .await
            .unwrap_or_else(|error| Err(io::Error::other(error)))
    }
}

/// Resolves a host name (`"host:port"` or `(host, port)`) to socket addresses, on the
/// blocking pool (IP addresses resolve at once).
///
/// ```
/// # ringtide::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let mut addresses = ringtide::net::lookup_host("127.0.0.1:80").await.unwrap();
/// assert_eq!(addresses.next(), Some("127.0.0.1:80".parse().unwrap()));
/// # });
/// ```
///
/// # Errors
///
/// Fails when the name does not resolve, or outside a runtime for a host name.
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    Ok(resolve(host).await?.into_iter())
}

macro_rules! ready_address {
    ($($type:ty => |$value:ident| $convert:expr;)*) => {
        $(
            impl ToSocketAddrs for $type {}
            impl sealed::Sealed for $type {
                fn resolution(&self) -> Resolution {
                    let $value = self;
                    Resolution::Ready(vec![$convert])
                }
            }
        )*
    };
}

ready_address! {
    SocketAddr => |a| *a;
    SocketAddrV4 => |a| SocketAddr::V4(*a);
    SocketAddrV6 => |a| SocketAddr::V6(*a);
    (IpAddr, u16) => |a| SocketAddr::new(a.0, a.1);
    (Ipv4Addr, u16) => |a| SocketAddr::new(IpAddr::V4(a.0), a.1);
    (Ipv6Addr, u16) => |a| SocketAddr::new(IpAddr::V6(a.0), a.1);
    ([u8; 4], u16) => |a| SocketAddr::new(IpAddr::from(a.0), a.1);
}

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Sealed for [SocketAddr] {
    fn resolution(&self) -> Resolution {
        Resolution::Ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    fn resolution(&self) -> Resolution {
        match self.parse::<SocketAddr>() {
            Ok(address) => Resolution::Ready(vec![address]),
            Err(_) => Resolution::Lookup(self.to_owned(), None),
        }
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn resolution(&self) -> Resolution {
        self.as_str().resolution()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn resolution(&self) -> Resolution {
        match self.0.parse::<IpAddr>() {
            Ok(ip) => Resolution::Ready(vec![SocketAddr::new(ip, self.1)]),
            Err(_) => Resolution::Lookup(self.0.to_owned(), Some(self.1)),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn resolution(&self) -> Resolution {
        (self.0.as_str(), self.1).resolution()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {
    fn resolution(&self) -> Resolution {
        (**self).resolution()
    }
}

#[cfg(test)]
mod tests {
    use super::sealed::Sealed;
    use super::*;

    #[test]
    fn ip_addresses_resolve_without_a_lookup() {
        let expected: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for resolution in [
            "127.0.0.1:8080".resolution(),
            ("127.0.0.1", 8080).resolution(),
            (Ipv4Addr::LOCALHOST, 8080).resolution(),
            expected.resolution(),
        ] {
            match resolution {
                Resolution::Ready(found) => assert_eq!(found, vec![expected]),
                Resolution::Lookup(host, _) => panic!("looked up {host}"),
            }
        }
        assert!(matches!(
            "localhost:80".resolution(),
            Resolution::Lookup(host, None) if host == "localhost:80"
        ));
    }
}
