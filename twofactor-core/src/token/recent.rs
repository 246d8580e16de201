//! The tokens this thread checked lately: what lets the guard skip the base64 decoding and the
//! HMAC of a token it has already seen.
//!
//! A guarded app sees the same token again and again (every request of a verified user carries
//! it), and checking its signature is most of the guard's cost. So each thread keeps the last
//! tokens whose signature passed, with the proof they carry, in a small direct-mapped table
//! ([`SLOTS`] entries, about 12 KiB, allocated on the thread's first token). What a hit saves
//! and what it does not:
//!
//! - A hit needs the same 104 characters, byte for byte, and the same [`KeyRing`]: the entry
//!   remembers the ring's id, which is new for every ring built (a ring with another key set is
//!   another ring). A forged or altered token is never byte-equal to a remembered one, so it goes
//!   through the full check and fails there.
//! - The comparison runs in constant time over the whole token, so how long a lookup takes says
//!   nothing about how much of a remembered token a guess got right.
//! - Only tokens that passed the signature check are remembered: a stream of forged tokens
//!   cannot evict the real ones.
//! - Expiry is checked on every use, against the caller's `now`, and revocation is the engine's
//!   check after this one, so neither is cached.
//!
//! [`KeyRing`]: super::KeyRing

use std::cell::RefCell;

use subtle::ConstantTimeEq;

use super::proof::{PhoneProof, TOKEN_LEN};

/// Entries per thread. A power of two; enough for the users a worker thread serves in a burst,
/// and a miss costs only the full check.
pub(super) const SLOTS: usize = 64;

const WORDS: usize = TOKEN_LEN / 8;
const _: () = assert!(TOKEN_LEN.is_multiple_of(8));

/// A token as machine words: compared in 13 steps instead of 104.
#[derive(Clone, Copy)]
pub(super) struct TokenWords([u64; WORDS]);

impl TokenWords {
    /// `None` unless `token` has the length of a token.
    #[inline]
    pub(super) fn of(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != TOKEN_LEN {
            return None;
        }
        let mut words = [0u64; WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *word = u64::from_le_bytes(b);
        }
        Some(Self(words))
    }

    #[inline]
    fn slot(&self) -> usize {
        // The last characters encode the MAC: as good as random for a real token. A forger who
        // aims at one slot gains nothing, since only signed tokens are stored.
        let w = self.0[WORDS - 1];
        ((w ^ (w >> 29) ^ (w >> 43)) as usize) % SLOTS
    }
}

struct Entry {
    ring: u64,
    token: TokenWords,
    proof: PhoneProof,
}

thread_local! {
    static RECENT: RefCell<Option<Box<[Option<Entry>; SLOTS]>>> = const { RefCell::new(None) };
}

/// The proof of `token` if this thread checked it under ring `ring` lately.
#[inline]
pub(super) fn lookup(ring: u64, token: &TokenWords) -> Option<PhoneProof> {
    RECENT.with(|recent| {
        let recent = recent.try_borrow().ok()?;
        let entry = recent.as_ref()?[token.slot()].as_ref()?;
        // Every word is compared whatever the others hold: no early exit to time.
        let diff = (entry.token.0.iter().zip(&token.0))
            .fold(entry.ring ^ ring, |acc, (a, b)| acc | (a ^ b));
        bool::from(diff.ct_eq(&0)).then_some(entry.proof)
    })
}

/// Remembers that `token` passed the signature check of ring `ring`, carrying `proof`.
#[inline(never)]
pub(super) fn remember(ring: u64, token: &TokenWords, proof: PhoneProof) {
    RECENT.with(|recent| {
        // A borrow can only be held by a lookup on this thread, which never calls back here;
        // if it ever were, forgetting is always safe.
        let Ok(mut recent) = recent.try_borrow_mut() else {
            return;
        };
        let table = recent.get_or_insert_with(|| Box::new([const { None }; SLOTS]));
        table[token.slot()] = Some(Entry {
            ring,
            token: *token,
            proof,
        });
    });
}
