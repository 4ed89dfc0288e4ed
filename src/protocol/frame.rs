//! Length-prefixed frames for the tarpc services (a 4-byte big-endian
//! length, then the body: what `LengthDelimitedCodec` writes, so the wire is
//! unchanged). Unlike that codec, a frame's buffer grows with the bytes that
//! arrive, never with the length a peer announces, and the part of every
//! frame beyond `FREE_BYTES` is charged to one budget for the whole process
//! (`PARTIAL_BUDGET`): a connection whose partial frame would overdraw it is
//! closed. A few peers announcing (or half-sending) huge frames therefore
//! pin at most the budget, not their announced sizes.
//!
//! A frame's body is bincode (`Messages`), decoded so that no bytes a peer
//! sends can panic a daemon.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::{Decoder, Encoder};

/// Bincode for a frame's body, with a decode that cannot panic. tarpc's
/// request context adds the deadline a peer sends to this node's clock,
/// which panics when the sum overflows (a deadline 2^63 s away, found by the
/// `frames` fuzzer); such a call is refused as invalid data before tarpc
/// decodes it, and the connection closes, like any frame that does not
/// decode.
pub struct Messages<Item, SinkItem>(Bincode<Item, SinkItem>);

impl<Item, SinkItem> Default for Messages<Item, SinkItem> {
    fn default() -> Self {
        Messages(Bincode::default())
    }
}

/// A message a frame carries, and what must be refused in its bytes before
/// they are decoded.
pub trait Message: for<'de> Deserialize<'de> {
    /// Why `body` cannot be decoded safely, if it cannot.
    fn refuse(_body: &[u8]) -> Option<&'static str> {
        None
    }
}

/// A call as bincode lays it out, read as far as its deadline: the
/// `Request` variant of `tarpc::ClientMessage`, whose request's first field
/// is its context, whose first field is the deadline (a `Duration` from
/// now). A `Cancel` carries none.
#[derive(Deserialize)]
enum CallHead {
    Request(std::time::Duration),
    Cancel,
}

impl<T: for<'de> Deserialize<'de>> Message for tarpc::ClientMessage<T> {
    fn refuse(body: &[u8]) -> Option<&'static str> {
        use bincode::Options;
        let head = bincode::DefaultOptions::new()
            .allow_trailing_bytes()
            .deserialize::<CallHead>(body);
        match head {
            Ok(CallHead::Request(deadline))
                if std::time::Instant::now().checked_add(deadline).is_none() =>
            {
                Some("a call whose deadline is out of range")
            }
            _ => None,
        }
    }
}

impl<T: for<'de> Deserialize<'de>> Message for tarpc::Response<T> {}

impl<Item, SinkItem> tarpc::tokio_serde::Deserializer<Item> for Messages<Item, SinkItem>
where
    Item: Message,
    Bincode<Item, SinkItem>: Unpin,
{
    type Error = std::io::Error;

    fn deserialize(self: Pin<&mut Self>, src: &BytesMut) -> Result<Item, Self::Error> {
        if let Some(why) = Item::refuse(src) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
        }
        Pin::new(&mut self.get_mut().0).deserialize(src)
    }
}

impl<Item, SinkItem> tarpc::tokio_serde::Serializer<SinkItem> for Messages<Item, SinkItem>
where
    SinkItem: Serialize,
    Bincode<Item, SinkItem>: Unpin,
{
    type Error = std::io::Error;

    fn serialize(self: Pin<&mut Self>, item: &SinkItem) -> Result<Bytes, Self::Error> {
        Pin::new(&mut self.get_mut().0).serialize(item)
    }
}

/// The largest frame either side sends or takes.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;
/// Every partial frame may hold this much without touching the budget.
pub const FREE_BYTES: usize = 1024 * 1024;
/// What the part beyond `FREE_BYTES` of every partial frame in this process
/// may hold together.
pub const PARTIAL_BUDGET: usize = 64 * 1024 * 1024;
/// The most the buffer grows by at once for a large frame.
const CHUNK: usize = 256 * 1024;
const HEAD: usize = 4;

/// Bytes charged to the budget now, by every codec in the process.
static CHARGED: AtomicUsize = AtomicUsize::new(0);

/// Bytes charged to the partial-frame budget now (for tests and metrics).
pub fn charged() -> usize {
    CHARGED.load(Ordering::Relaxed)
}

/// Take `n` bytes from the budget, if it has them.
fn charge(n: usize) -> bool {
    CHARGED
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |now| {
            now.checked_add(n).filter(|&total| total <= PARTIAL_BUDGET)
        })
        .is_ok()
}

fn refund(n: usize) {
    if n > 0 {
        CHARGED.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The frame codec of every tarpc connection.
#[derive(Debug, Default)]
pub struct FrameCodec {
    /// The body length of the frame being read, once its head arrived.
    pending: Option<usize>,
    /// What this codec's current partial frame holds of the budget.
    charged: usize,
}

impl FrameCodec {
    pub fn new() -> Self {
        FrameCodec::default()
    }

    /// Charge the budget for what `buffered` bytes of a frame need beyond
    /// the free part; false when the budget cannot cover them.
    fn cover(&mut self, buffered: usize) -> bool {
        let need = buffered.saturating_sub(FREE_BYTES);
        if need <= self.charged {
            return true;
        }
        let more = need - self.charged;
        if !charge(more) {
            return false;
        }
        self.charged = need;
        true
    }

    fn settle(&mut self) {
        refund(std::mem::take(&mut self.charged));
    }
}

impl Drop for FrameCodec {
    fn drop(&mut self) {
        self.settle();
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message)
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, std::io::Error> {
        let len = match self.pending {
            Some(len) => len,
            None => {
                if src.len() < HEAD {
                    return Ok(None);
                }
                let len = src.get_u32() as usize;
                if len > MAX_FRAME {
                    return Err(invalid(format!(
                        "a frame of {len} bytes announced: the most is {MAX_FRAME}"
                    )));
                }
                self.pending = Some(len);
                len
            }
        };
        if src.len() >= len {
            self.pending = None;
            let frame = src.split_to(len);
            self.settle();
            return Ok(Some(frame));
        }
        // Room for what may come next, a chunk at a time: the buffer follows
        // the bytes that arrive, not the length announced.
        let wanted = (len - src.len()).min(CHUNK);
        if !self.cover(src.len() + wanted) {
            return Err(invalid(format!(
                "a frame of {len} bytes in progress does not fit the memory kept for partial frames now ({} MiB); closing the connection",
                PARTIAL_BUDGET >> 20
            )));
        }
        src.reserve(wanted);
        Ok(None)
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = std::io::Error;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        if body.len() > MAX_FRAME {
            return Err(invalid(format!(
                "a message of {} bytes: the most is {MAX_FRAME}",
                body.len()
            )));
        }
        dst.reserve(HEAD + body.len());
        dst.put_u32(body.len() as u32);
        dst.extend_from_slice(&body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &[u8]) -> BytesMut {
        let mut out = BytesMut::new();
        FrameCodec::new()
            .encode(Bytes::copy_from_slice(body), &mut out)
            .unwrap();
        out
    }

    #[test]
    fn frames_round_trip_whole_and_byte_by_byte() {
        let wire = [framed(b"hello"), framed(b""), framed(&[7; 3000])].concat();
        let mut codec = FrameCodec::new();
        let mut src = BytesMut::new();
        let mut got = Vec::new();
        for byte in wire {
            src.put_u8(byte);
            while let Some(frame) = codec.decode(&mut src).unwrap() {
                got.push(frame.to_vec());
            }
        }
        assert_eq!(got, vec![b"hello".to_vec(), vec![], vec![7; 3000]]);
    }

    #[test]
    fn an_announced_length_reserves_nothing_like_it() {
        let mut codec = FrameCodec::new();
        let mut src = BytesMut::new();
        src.put_u32((MAX_FRAME - 1) as u32);
        src.put_slice(b"abc");
        assert!(codec.decode(&mut src).unwrap().is_none());
        assert!(src.capacity() <= 2 * CHUNK, "{}", src.capacity());
    }

    #[test]
    fn a_frame_over_the_limit_is_refused() {
        let mut codec = FrameCodec::new();
        let mut src = BytesMut::new();
        src.put_u32((MAX_FRAME + 1) as u32);
        assert!(codec.decode(&mut src).is_err());
    }

    #[test]
    fn partial_frames_share_one_budget_and_give_it_back() {
        // Hold big partial frames until the budget refuses one.
        let mut held = Vec::new();
        let mut refused = false;
        for _ in 0..(PARTIAL_BUDGET / FREE_BYTES + 8) {
            let mut codec = FrameCodec::new();
            let mut src = BytesMut::new();
            src.put_u32(MAX_FRAME as u32);
            let mut ok = codec.decode(&mut src).is_ok();
            let mut fed = 0;
            while ok && fed < 8 * FREE_BYTES {
                src.put_slice(&[0; CHUNK]);
                fed += CHUNK;
                ok = codec.decode(&mut src).is_ok();
            }
            if !ok {
                refused = true;
                break;
            }
            held.push((codec, src));
        }
        assert!(refused, "the budget ran out");
        assert!(charged() <= PARTIAL_BUDGET);
        drop(held);
        // Other tests may hold some; ours is back.
        assert!(charged() < PARTIAL_BUDGET / 2, "{}", charged());
    }
}
