//! Signed audit checkpoints and the proofs that tie events to them.
//!
//! The audit log is a hash chain; a checkpoint also commits to it as an RFC 6962
//! (Certificate Transparency) Merkle tree whose leaves are the events' chain hashes, in
//! sequence order. The server signs `(size, head, root, signed_at)` with an Ed25519 key
//! kept outside the database. Then, offline:
//!
//! * an **inclusion proof** (about log2(size) hashes) shows that one event is in the log a
//!   checkpoint signed, so an evidence pack can carry just the events it is about;
//! * a **consistency proof** shows that a later checkpoint's log extends an earlier one's:
//!   nothing behind the earlier checkpoint was rewritten or dropped;
//! * with the whole log at hand, recomputing each checkpoint's root and head shows the
//!   same, and a log shorter than the newest checkpoint was truncated.
//!
//! Hashing and proof checking are `ct-merkle`'s (RFC 6962 §2.1); signatures are
//! aws-lc-rs's Ed25519, the crypto library rustls already links.

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

/// What a checkpoint's signature covers begins with this line.
pub const CHECKPOINT_FORMAT: &str = "promptops-checkpoint/1";

/// A signed statement of the audit log's state: its first `size` events have the
/// Merkle root `root`, and the last of them has the chain hash `head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Checkpoint {
    /// Events covered: sequence numbers 1 to `size`.
    pub size: u64,
    /// The chain hash of event `size` (hex).
    pub head: String,
    /// The RFC 6962 Merkle root of the events' chain hashes (hex).
    pub root: String,
    /// RFC 3339, when the server signed it.
    pub signed_at: String,
    /// The Ed25519 public key that signed it (hex, 32 bytes).
    pub public_key: String,
    /// The Ed25519 signature of [`Checkpoint::message`] (hex, 64 bytes).
    pub signature: String,
}

/// An event's inclusion in the log a checkpoint signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofDoc {
    /// The event's sequence number (its leaf is `seq - 1`).
    pub seq: u64,
    /// The size of the tree the proof is against.
    pub size: u64,
    /// Sibling hashes from the leaf up (hex).
    pub path: Vec<String>,
}

/// A proof that the log of `new_size` events extends the log of `old_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofDoc {
    pub old_size: u64,
    pub new_size: u64,
    /// Hashes (hex).
    pub path: Vec<String>,
}

/// The key a server signs checkpoints with (`GET /v1/audit/checkpoints/key`): pin it,
/// and verify packs against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckpointKey {
    /// Always `ed25519`.
    pub algorithm: String,
    /// The public key, hex.
    pub public_key: String,
}

/// Why a checkpoint or a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointProblem {
    Malformed(String),
    BadSignature,
    WrongKey { expected: String, found: String },
    NotIncluded { seq: u64 },
    Inconsistent { old_size: u64, new_size: u64 },
}

impl std::fmt::Display for CheckpointProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointProblem::Malformed(what) => write!(f, "malformed: {what}"),
            CheckpointProblem::BadSignature => f.write_str(
                "the signature does not verify under its public key: the checkpoint was altered or not signed by this server",
            ),
            CheckpointProblem::WrongKey { expected, found } => write!(
                f,
                "signed by key {found}, not the trusted key {expected}"
            ),
            CheckpointProblem::NotIncluded { seq } => write!(
                f,
                "event {seq} is not in the checkpointed log: its content, position or proof was altered"
            ),
            CheckpointProblem::Inconsistent { old_size, new_size } => write!(
                f,
                "the log of {new_size} events does not extend the log of {old_size}: events behind the older checkpoint were rewritten"
            ),
        }
    }
}

impl Checkpoint {
    /// The bytes the signature covers.
    pub fn message(size: u64, head: &str, root: &str, signed_at: &str) -> Vec<u8> {
        format!("{CHECKPOINT_FORMAT}\n{size}\n{head}\n{root}\n{signed_at}\n").into_bytes()
    }

    /// Checks the signature, and when `trusted` is given (hex public key) that this key
    /// made it. A checkpoint that verifies only under its own embedded key proves
    /// nothing about who signed it: pin the server's key (`GET /v1/audit/checkpoints/key`).
    pub fn verify_signature(&self, trusted: Option<&str>) -> Result<(), CheckpointProblem> {
        if let Some(expected) = trusted
            && !expected.eq_ignore_ascii_case(&self.public_key)
        {
            return Err(CheckpointProblem::WrongKey {
                expected: expected.to_owned(),
                found: self.public_key.clone(),
            });
        }
        let key = from_hex(&self.public_key, 32, "public_key")?;
        let signature = from_hex(&self.signature, 64, "signature")?;
        let message = Self::message(self.size, &self.head, &self.root, &self.signed_at);
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&message, &signature)
            .map_err(|_| CheckpointProblem::BadSignature)
    }

    fn root_hash(&self) -> Result<RootHash<Sha256>, CheckpointProblem> {
        let bytes = from_hex(&self.root, 32, "root")?;
        Ok(RootHash::new(
            *ct_merkle::digest::Output::<Sha256>::from_slice(&bytes),
            self.size,
        ))
    }

    /// Checks that the event with chain hash `event_hash` is in this checkpoint's log.
    pub fn verify_inclusion(
        &self,
        event_hash: &str,
        proof: &InclusionProofDoc,
    ) -> Result<(), CheckpointProblem> {
        let not_included = CheckpointProblem::NotIncluded { seq: proof.seq };
        if proof.size != self.size || proof.seq == 0 || proof.seq > self.size {
            return Err(not_included);
        }
        let leaf = Leaf::from_hex(event_hash)?;
        let path = InclusionProof::<Sha256>::from_bytes(joined(&proof.path)?);
        self.root_hash()?
            .verify_inclusion(&leaf, proof.seq - 1, &path)
            .map_err(|_| not_included)
    }

    /// Checks that this checkpoint's log extends `older`'s.
    pub fn verify_extends(
        &self,
        older: &Checkpoint,
        proof: &ConsistencyProofDoc,
    ) -> Result<(), CheckpointProblem> {
        let inconsistent = CheckpointProblem::Inconsistent {
            old_size: older.size,
            new_size: self.size,
        };
        if proof.old_size != older.size || proof.new_size != self.size {
            return Err(inconsistent);
        }
        if older.size == self.size {
            return if older.root == self.root && older.head == self.head {
                Ok(())
            } else {
                Err(inconsistent)
            };
        }
        let path = ConsistencyProof::<Sha256>::try_from_bytes(joined(&proof.path)?)
            .map_err(|_| inconsistent.clone())?;
        self.root_hash()?
            .verify_consistency(&older.root_hash()?, &path)
            .map_err(|_| inconsistent)
    }
}

/// A leaf: an event's chain hash, as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf([u8; 32]);

impl Leaf {
    /// The leaf of an event whose chain hash is `hash` (hex).
    pub fn from_hex(hash: &str) -> Result<Leaf, CheckpointProblem> {
        let bytes = from_hex(hash, 32, "event hash")?;
        let mut leaf = [0; 32];
        leaf.copy_from_slice(&bytes);
        Ok(Leaf(leaf))
    }
}

/// ct-merkle hashes any bag of bytes as a leaf (RFC 6962: SHA-256 of 0x00 and them).
impl AsRef<[u8]> for Leaf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The Merkle tree of a log's event hashes, grown as events arrive.
#[derive(Default)]
pub struct LogTree {
    tree: MemoryBackedTree<Sha256, Leaf>,
}

impl LogTree {
    pub fn new() -> LogTree {
        LogTree::default()
    }

    /// Appends the next event's chain hash.
    pub fn push(&mut self, event_hash: &str) -> Result<(), CheckpointProblem> {
        self.tree.push(Leaf::from_hex(event_hash)?);
        Ok(())
    }

    /// Events in the tree.
    pub fn len(&self) -> u64 {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The root over every event pushed (hex).
    pub fn root(&self) -> String {
        hex(self.tree.root().as_bytes())
    }

    /// The proof that event `seq` is in this tree; `None` when it is not in range.
    pub fn inclusion(&self, seq: u64) -> Option<InclusionProofDoc> {
        if seq == 0 || seq > self.len() {
            return None;
        }
        let proof = self.tree.prove_inclusion(usize::try_from(seq - 1).ok()?);
        Some(InclusionProofDoc {
            seq,
            size: self.len(),
            path: split(proof.as_bytes()),
        })
    }

    /// The proof that this tree extends its first `old_size` events; `None` when
    /// `old_size` is 0 or beyond the tree.
    pub fn consistency(&self, old_size: u64) -> Option<ConsistencyProofDoc> {
        if old_size == 0 || old_size > self.len() {
            return None;
        }
        let additions = usize::try_from(self.len() - old_size).ok()?;
        let path = if additions == 0 {
            Vec::new()
        } else {
            split(self.tree.prove_consistency(additions).as_bytes())
        };
        Some(ConsistencyProofDoc {
            old_size,
            new_size: self.len(),
            path,
        })
    }
}

fn from_hex(text: &str, len: usize, what: &str) -> Result<Vec<u8>, CheckpointProblem> {
    let malformed = || CheckpointProblem::Malformed(format!("{what} must be {len} bytes of hex"));
    if text.len() != len * 2 || !text.is_ascii() {
        return Err(malformed());
    }
    (0..len)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| malformed()))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn split(bytes: &[u8]) -> Vec<String> {
    bytes.chunks(32).map(hex).collect()
}

fn joined(path: &[String]) -> Result<Vec<u8>, CheckpointProblem> {
    let mut out = Vec::with_capacity(path.len() * 32);
    for node in path {
        out.extend(from_hex(node, 32, "proof hash")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    fn hash(i: u64) -> String {
        promptops_core::canonical::sha256_hex(format!("event {i}"))
    }

    fn tree(n: u64) -> LogTree {
        let mut t = LogTree::new();
        for i in 1..=n {
            t.push(&hash(i)).unwrap();
        }
        t
    }

    fn signed(t: &LogTree, key: &Ed25519KeyPair) -> Checkpoint {
        let (size, head, root) = (t.len(), hash(t.len()), t.root());
        let at = "2026-12-03T22:00:00Z";
        let sig = key.sign(&Checkpoint::message(size, &head, &root, at));
        Checkpoint {
            size,
            head,
            root,
            signed_at: at.into(),
            public_key: hex(key.public_key().as_ref()),
            signature: hex(sig.as_ref()),
        }
    }

    fn key(seed: u8) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
    }

    #[test]
    fn the_root_is_rfc_6962s() {
        // The empty leaf's hash, SHA-256(0x00), from RFC 6962's test vectors.
        let mut t = MemoryBackedTree::<Sha256, Vec<u8>>::new();
        t.push(Vec::new());
        assert_eq!(
            hex(t.root().as_bytes()),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        // The eight-leaf tree of the same vectors.
        for leaf in [
            &b"\x00"[..],
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ] {
            t.push(leaf.to_vec());
        }
        assert_eq!(
            hex(t.root().as_bytes()),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
    }

    #[test]
    fn every_event_is_proven_in_every_size() {
        for n in 1..=17 {
            let t = tree(n);
            let cp = signed(&t, &key(1));
            cp.verify_signature(None).unwrap();
            for seq in 1..=n {
                let proof = t.inclusion(seq).unwrap();
                cp.verify_inclusion(&hash(seq), &proof).unwrap();
                // Another event's hash at this position is refused.
                let other = hash(seq + 100);
                assert_eq!(
                    cp.verify_inclusion(&other, &proof),
                    Err(CheckpointProblem::NotIncluded { seq })
                );
            }
            for old in 1..=n {
                let older = signed(&tree(old), &key(1));
                cp.verify_extends(&older, &t.consistency(old).unwrap())
                    .unwrap();
            }
        }
    }

    #[test]
    fn a_rewritten_past_is_inconsistent() {
        let older = signed(&tree(5), &key(1));
        let mut rewritten = LogTree::new();
        for i in 1..=9 {
            let h = if i == 3 { hash(333) } else { hash(i) };
            rewritten.push(&h).unwrap();
        }
        let newer = signed(&rewritten, &key(1));
        assert!(matches!(
            newer.verify_extends(&older, &rewritten.consistency(5).unwrap()),
            Err(CheckpointProblem::Inconsistent { .. })
        ));
    }

    #[test]
    fn signatures_bind_every_field_and_the_key() {
        let t = tree(4);
        let cp = signed(&t, &key(1));
        let mut edited = cp.clone();
        edited.size = 3;
        assert_eq!(
            edited.verify_signature(None),
            Err(CheckpointProblem::BadSignature)
        );
        let mut edited = cp.clone();
        edited.signed_at = "2027-01-01T00:00:00Z".into();
        assert_eq!(
            edited.verify_signature(None),
            Err(CheckpointProblem::BadSignature)
        );
        let other = hex(key(2).public_key().as_ref());
        assert!(matches!(
            cp.verify_signature(Some(&other)),
            Err(CheckpointProblem::WrongKey { .. })
        ));
        assert_eq!(
            cp.verify_signature(Some(&cp.public_key.to_uppercase())),
            Ok(())
        );
        let mut garbage = cp.clone();
        garbage.signature = "zz".into();
        assert!(matches!(
            garbage.verify_signature(None),
            Err(CheckpointProblem::Malformed(_))
        ));
    }
}
