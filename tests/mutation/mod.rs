//! Mutations of a valid document for the hostile-input properties of the XML codecs
//! (`tests/imdn.rs`, `tests/iscomposing.rs`): truncations, deleted bytes and spliced
//! snippets at random positions. Each suite passes the snippets of its own grammar.

use proptest::prelude::*;

/// A mutation's edits: at a position, truncate (0), delete a byte (1), or splice in
/// snippet `k - 2` of a list of `snippets` snippets.
pub fn edits(snippets: usize) -> impl Strategy<Value = Vec<(prop::sample::Index, usize)>> {
    proptest::collection::vec((any::<prop::sample::Index>(), 0..snippets + 2), 1..6)
}

/// `text` with `edits` applied in order.
pub fn mutate(text: &str, edits: Vec<(prop::sample::Index, usize)>, snippets: &[&str]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for (at, what) in edits {
        let at = at.index(bytes.len() + 1);
        match what {
            0 => bytes.truncate(at),
            1 if at < bytes.len() => drop(bytes.remove(at)),
            1 => {}
            k => bytes.splice(at..at, snippets[k - 2].bytes()).for_each(drop),
        }
    }
    bytes
}
