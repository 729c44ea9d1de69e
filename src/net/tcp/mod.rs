//! TCP: [`TcpListener`], [`TcpStream`] (with its [`OwnedReadHalf`]/[`OwnedWriteHalf`]
//! split) and [`TcpSocket`].

mod listener;
mod socket;
mod split;
mod stream;

pub use listener::TcpListener;
pub(crate) use listener::socket_addr;
pub use socket::TcpSocket;
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;
