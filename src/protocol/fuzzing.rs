//! Entry points for the cargo-fuzz targets in `fuzz/` (not an API): the
//! accepting side of a handshake and the tarpc frame decoder, fed bytes
//! as a peer would send them. Each must return, whatever the bytes.

use super::frame::{FrameCodec, Messages};
use super::handshake::{server_side, Accepting};
use super::{Security, Token, TrackerRpcRequest};
use bytes::BytesMut;
use std::pin::Pin;
use tarpc::tokio_serde::Deserializer;
use tarpc::tokio_util::codec::Decoder;

/// Run the server's side of a handshake on `input` (a plain node, and one
/// with a token), answers going nowhere.
pub fn handshake(input: &[u8]) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    let token = Token::new("a token of the fuzzing cluster").ok();
    for security in [Security::none(), Security::none().with_token(token)] {
        runtime.block_on(async {
            let mut io = tokio::io::join(input, tokio::io::sink());
            let at = Accepting {
                node_id: "fuzz",
                security: &security,
                peer: std::net::Ipv4Addr::LOCALHOST.into(),
                binding: &[],
                clients_only: input.first().is_some_and(|b| b & 1 == 1),
            };
            let _ = server_side(&mut io, &at).await;
        });
    }
}

/// Decode `input` as a stream of tarpc frames, each as a request to the
/// tracker, as the tracker's transport does.
pub fn frames(input: &[u8]) {
    let mut codec = FrameCodec::new();
    let mut serde: Messages<tarpc::ClientMessage<TrackerRpcRequest>, ()> = Messages::default();
    // Fed in pieces, as a socket would.
    let mut src = BytesMut::new();
    for piece in input.chunks(97) {
        src.extend_from_slice(piece);
        loop {
            match codec.decode(&mut src) {
                Ok(Some(frame)) => {
                    let _ = Pin::new(&mut serde).deserialize(&frame);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_entry_points_take_good_and_bad_bytes() {
        let hello = br#"{"magic":"lts","protocol":6,"role":"client","version":"x","nonce":""}"#;
        let mut framed = (hello.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(hello);
        for input in [&framed[..], b"", b"\xff\xff\xff\xff", b"\x00\x00\x00\x02{}"] {
            super::handshake(input);
            super::frames(input);
        }
    }
}
