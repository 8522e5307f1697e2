//! Caps the TCP sockets one plugin instance holds at once. Each is a host
//! file descriptor from the moment `create-tcp-socket` returns, connected or
//! not, so a plugin with a `tcp_connect` grant could otherwise exhaust the
//! server's descriptors within the resource table's bound.
//!
//! `create-tcp-socket` is replaced in a linker that
//! `wasmtime_wasi::p2::add_to_linker_async` filled; the sockets still held
//! are those of the created ones whose table slot still holds a TCP socket.

use std::collections::HashSet;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, IpAddressFamily};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket::Host as _;
use wasmtime_wasi::p2::{SocketError, SocketResult, TcpSocket};
use wasmtime_wasi::sockets::WasiSocketsView;

/// The most TCP sockets one instance may hold at once.
pub const MAX_TCP_SOCKETS: usize = 32;

/// The linker instance wasmtime-wasi 48 defines `create-tcp-socket` in.
const TCP_CREATE_SOCKET: &str = "wasi:sockets/tcp-create-socket@0.2.12";

/// The sockets an instance created, by resource rep.
#[derive(Default)]
pub struct SocketCap {
    created: HashSet<u32>,
}

/// What a store's data gives the wrapper.
pub trait SocketCapView: WasiSocketsView + 'static {
    fn socket_cap(&mut self) -> &mut SocketCap;
}

fn create_tcp_socket<T: SocketCapView>(
    state: &mut T,
    family: IpAddressFamily,
) -> SocketResult<Resource<TcpSocket>> {
    let mut created = std::mem::take(&mut state.socket_cap().created);
    {
        let view = state.sockets();
        created.retain(|&rep| {
            view.table
                .get(&Resource::<TcpSocket>::new_borrow(rep))
                .is_ok()
        });
    }
    let full = created.len() >= MAX_TCP_SOCKETS;
    state.socket_cap().created = created;
    if full {
        return Err(SocketError::trap(wasmtime::format_err!(
            "plugin exceeded its limit of {MAX_TCP_SOCKETS} TCP sockets held at once \
             (it must drop the ones it no longer uses)"
        )));
    }
    let socket = state.sockets().create_tcp_socket(family)?;
    state.socket_cap().created.insert(socket.rep());
    Ok(socket)
}

/// Replaces `create-tcp-socket` with the capped one.
pub fn add_to_linker_async<T: SocketCapView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    // As in the filesystem guard: refuse to link rather than leave the
    // uncapped definition in force under another version.
    linker.allow_shadowing(false);
    let probe = linker
        .instance(TCP_CREATE_SOCKET)?
        .func_wrap("create-tcp-socket", |_: StoreContextMut<'_, T>, (): ()| {
            Ok(())
        });
    if probe.is_ok() {
        wasmtime::bail!(
            "wasmtime-wasi does not define {TCP_CREATE_SOCKET}: update TCP_CREATE_SOCKET in socket_cap.rs"
        );
    }
    linker.allow_shadowing(true);
    linker.instance(TCP_CREATE_SOCKET)?.func_wrap(
        "create-tcp-socket",
        |mut caller: StoreContextMut<'_, T>, (family,): (IpAddressFamily,)| {
            Ok((match create_tcp_socket(caller.data_mut(), family) {
                Ok(socket) => Ok(socket),
                Err(e) => Err::<_, ErrorCode>(e.downcast()?),
            },))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
