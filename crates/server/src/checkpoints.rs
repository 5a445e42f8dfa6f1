//! Signing audit checkpoints (see [`promptops_api::checkpoints`]).
//!
//! Each signing builds the Merkle tree of the log's chain hashes from the store, in one
//! read (what is signed is what the store holds; 0.4 s at 100,000 events on SQLite,
//! `bench/ui.sh`). Before it signs, it checks that the log extends what it signed
//! before: the chain verifies from the last checkpoint's head, and the root at that
//! checkpoint's size is still its root. A log rewritten
//! behind a checkpoint is refused, loudly, never signed over.
//!
//! The key is an Ed25519 seed from `PROMPTOPS_CHECKPOINT_KEY` or the checkpoint key file
//! (made on first start, owner-only; see the CLI's `serve`). Without one (an embedded
//! server in a test), the seed is derived from the token signing secret with HKDF.

use crate::state::AppState;
use aws_lc_rs::hkdf;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use promptops_api::checkpoints::{CheckpointProblem, LogTree};
use promptops_api::{AuditHead, Checkpoint, ConsistencyProofDoc, InclusionProofDoc};
use promptops_store::{Store, StoreError};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::Mutex;

/// How many chain hashes one read brings into the tree.
const PAGE: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the audit log does not verify after checkpoint {size}: event {seq}: {problem}; it was not signed"
    )]
    Broken {
        size: u64,
        seq: u64,
        problem: String,
    },
    #[error(
        "the audit log was rewritten behind checkpoint {size} (signed {signed_at}): its events no longer have that checkpoint's root; nothing new is signed until an operator looks"
    )]
    Rewritten { size: u64, signed_at: String },
    #[error("the audit log holds an unreadable hash: {0}")]
    Hash(String),
    #[error("the audit log is empty: there is nothing to sign")]
    Empty,
    #[error("no checkpoint covers {0} events yet")]
    NoSuchSize(u64),
}

impl From<CheckpointProblem> for CheckpointError {
    fn from(p: CheckpointProblem) -> Self {
        CheckpointError::Hash(p.to_string())
    }
}

/// The checkpoint signing key, the tree, and signing.
pub struct Checkpointer {
    key: Ed25519KeyPair,
    public_key: String,
    signing: Mutex<()>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checkpointer {{ public_key: {} }}", self.public_key)
    }
}

impl Checkpointer {
    /// A checkpointer signing with the Ed25519 key of `seed`.
    pub fn new(seed: &[u8; 32]) -> Checkpointer {
        // Any 32 bytes are an Ed25519 seed.
        let key = Ed25519KeyPair::from_seed_unchecked(seed).unwrap_or_else(|_| unreachable!());
        let public_key = hex(key.public_key().as_ref());
        Checkpointer {
            key,
            public_key,
            signing: Mutex::new(()),
        }
    }

    /// The seed a server without a key of its own signs with: HKDF of the token secret.
    pub fn derived_seed(jwt_secret: &[u8]) -> [u8; 32] {
        struct Len;
        impl hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"promptops").extract(jwt_secret);
        let mut seed = [0u8; 32];
        if let Ok(okm) = prk.expand(&[b"promptops audit checkpoint key v1"], Len) {
            let _ = okm.fill(&mut seed);
        }
        seed
    }

    /// The public key checkpoints verify under (hex).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// Signs a checkpoint of the log as it stands, when it grew since the last one;
    /// answers the newest checkpoint either way.
    pub async fn sign_now<S: Store>(&self, store: &S) -> Result<Checkpoint, CheckpointError> {
        Ok(self.sign_with_tree(store).await?.0)
    }

    /// [`Checkpointer::sign_now`], with the tree of the log it covers (for proofs
    /// against it without reading the log again).
    pub async fn sign_with_tree<S: Store>(
        &self,
        store: &S,
    ) -> Result<(Checkpoint, LogTree), CheckpointError> {
        let _one_at_a_time = self.signing.lock().await;
        let last = store.checkpoints().await?.pop();
        // Built from the store each time, in one read that also gives the root at the
        // last checkpoint's size: what is signed is what the store holds now.
        let built = build(store, u64::MAX, last.as_ref().map(|c| c.size)).await?;
        let (tree, head) = (built.tree, built.head);
        if tree.is_empty() {
            return Err(CheckpointError::Empty);
        }
        if let Some(last) = &last {
            self.check_extends(store, last, built.root_at.as_deref())
                .await?;
            if last.size == tree.len() {
                return Ok((last.clone(), tree));
            }
        } else {
            let verification = store.audit_verify_after(None, None).await?;
            if let Some(bad) = verification.first_bad {
                return Err(CheckpointError::Broken {
                    size: 0,
                    seq: bad.seq,
                    problem: bad.problem,
                });
            }
        }
        let size = tree.len();
        let root = tree.root();
        let signed_at = promptops_core::clock::now_rfc3339();
        let signature = self
            .key
            .sign(&Checkpoint::message(size, &head, &root, &signed_at));
        let checkpoint = Checkpoint {
            size,
            head,
            root,
            signed_at,
            public_key: self.public_key.clone(),
            signature: hex(signature.as_ref()),
        };
        store.add_checkpoint(&checkpoint).await?;
        Ok((checkpoint, tree))
    }

    /// That the log now extends `last`: the chain verifies from its head, and the
    /// tree's root at its size is its root.
    async fn check_extends<S: Store>(
        &self,
        store: &S,
        last: &Checkpoint,
        root_then: Option<&str>,
    ) -> Result<(), CheckpointError> {
        let start = AuditHead {
            seq: last.size,
            hash: last.head.clone(),
        };
        let verification = store.audit_verify_after(Some(&start), None).await?;
        if let Some(bad) = verification.first_bad {
            return Err(CheckpointError::Broken {
                size: last.size,
                seq: bad.seq,
                problem: bad.problem,
            });
        }
        // `None`: the log is shorter than the checkpoint now (truncated).
        if root_then != Some(last.root.as_str()) {
            return Err(CheckpointError::Rewritten {
                size: last.size,
                signed_at: last.signed_at.clone(),
            });
        }
        Ok(())
    }

    /// The proof that event `seq` is in the log of checkpoint `size`.
    pub async fn inclusion<S: Store>(
        &self,
        store: &S,
        seq: u64,
        size: u64,
    ) -> Result<Option<InclusionProofDoc>, CheckpointError> {
        let tree = self.sized(store, size).await?;
        Ok(tree.inclusion(seq))
    }

    /// The proof that the log of checkpoint `new_size` extends that of `old_size`.
    pub async fn consistency<S: Store>(
        &self,
        store: &S,
        old_size: u64,
        new_size: u64,
    ) -> Result<Option<ConsistencyProofDoc>, CheckpointError> {
        let tree = self.sized(store, new_size).await?;
        Ok(tree.consistency(old_size))
    }

    /// The tree of the first `size` events, where a checkpoint of that size exists.
    async fn sized<S: Store>(&self, store: &S, size: u64) -> Result<LogTree, CheckpointError> {
        if !store.checkpoints().await?.iter().any(|c| c.size == size) {
            return Err(CheckpointError::NoSuchSize(size));
        }
        Ok(tree_of(store, size).await?.tree)
    }
}

/// The tree of the first `size` events (all of them for `u64::MAX`), read from the
/// store; a gap in the sequence is a broken log.
async fn tree_of<S: Store>(store: &S, size: u64) -> Result<Built, CheckpointError> {
    build(store, size, None).await
}

/// What one read of the log builds: the tree, the last chain hash, and the root at
/// `root_at` events on the way (a past checkpoint's size).
struct Built {
    tree: LogTree,
    head: String,
    root_at: Option<String>,
}

/// The tree of the first `size` events (all of them for `u64::MAX`), read from the
/// store in pages; a gap in the sequence is a broken log.
async fn build<S: Store>(
    store: &S,
    size: u64,
    root_at: Option<u64>,
) -> Result<Built, CheckpointError> {
    let mut built = Built {
        tree: LogTree::new(),
        head: String::new(),
        root_at: None,
    };
    let tree = &mut built.tree;
    while tree.len() < size {
        let want = PAGE.min(size - tree.len());
        let page = store.audit_hashes(tree.len(), want).await?;
        for (seq, hash) in &page {
            if *seq != tree.len() + 1 {
                return Err(CheckpointError::Broken {
                    size: tree.len(),
                    seq: *seq,
                    problem: format!("event {} is missing", tree.len() + 1),
                });
            }
            tree.push(hash)?;
            built.head.clone_from(hash);
            if root_at == Some(tree.len()) {
                built.root_at = Some(tree.root());
            }
        }
        if (page.len() as u64) < want {
            break;
        }
    }
    Ok(built)
}

/// Inclusion proofs of each of `seqs` and consistency proofs from each of `older` (sizes)
/// against `tree`.
pub fn prove(
    tree: &LogTree,
    seqs: &[u64],
    older: &[u64],
) -> Result<(Vec<InclusionProofDoc>, Vec<ConsistencyProofDoc>), CheckpointError> {
    let inclusion = seqs
        .iter()
        .map(|&seq| tree.inclusion(seq).ok_or(CheckpointError::NoSuchSize(seq)))
        .collect::<Result<_, _>>()?;
    let consistency = older
        .iter()
        .map(|&old| {
            tree.consistency(old)
                .ok_or(CheckpointError::NoSuchSize(old))
        })
        .collect::<Result<_, _>>()?;
    Ok((inclusion, consistency))
}

/// Signs every `every` when the log grew; stops with the server.
pub fn start<S: Store>(state: &AppState<S>, every: Duration) {
    let store = Arc::downgrade(&state.store);
    let checkpointer = Arc::downgrade(&state.checkpoints);
    tokio::spawn(run(store, checkpointer, every));
}

async fn run<S: Store>(store: Weak<S>, checkpointer: Weak<Checkpointer>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let (Some(store), Some(checkpointer)) = (store.upgrade(), checkpointer.upgrade()) else {
            return;
        };
        match checkpointer.sign_now(&*store).await {
            Ok(_) | Err(CheckpointError::Empty) => {}
            Err(e) => tracing::error!(error = %e, "audit checkpoint not signed"),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_key_is_stable_and_depends_on_the_secret() {
        let a = Checkpointer::new(&Checkpointer::derived_seed(
            b"one secret of 32 characters....",
        ));
        let b = Checkpointer::new(&Checkpointer::derived_seed(
            b"one secret of 32 characters....",
        ));
        let c = Checkpointer::new(&Checkpointer::derived_seed(
            b"another secret of 32 characters",
        ));
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        assert_eq!(a.public_key().len(), 64);
    }
}
