//! The whole vectors of a projected index, quantised like the graph's, for re-ranking what its
//! search proposes. The graph walks along the principal axes only (`projection`), so among the
//! photos it proposes the order of those nearly equally far (a stranger's nearest, at ~0.8)
//! is loose; re-ranked by the whole vector, the search's candidates come out in the order an
//! exact scan would put them (up to quantisation). Reading a few hundred vectors per search
//! at random costs microseconds; the graph's walk reads thousands.

use std::collections::HashMap;

/// Quantised vectors of one length, by key, in slots that removals free for later insertions.
pub(crate) struct Wholes {
    dimensions: usize,
    slots: HashMap<u64, u32>,
    codes: Vec<i8>,
    free: Vec<u32>,
}

impl Wholes {
    pub(crate) fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            slots: HashMap::new(),
            codes: Vec::new(),
            free: Vec::new(),
        }
    }

    pub(crate) fn reserve(&mut self, count: usize) {
        self.slots.reserve(count.saturating_sub(self.slots.len()));
        let more = (count * self.dimensions).saturating_sub(self.codes.len());
        self.codes.reserve(more);
    }

    pub(crate) fn insert(&mut self, key: u64, code: &[i8]) {
        debug_assert_eq!(code.len(), self.dimensions);
        let slot = match self.slots.get(&key) {
            Some(slot) => *slot,
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.codes.resize(self.codes.len() + self.dimensions, 0);
                    (self.codes.len() / self.dimensions - 1) as u32
                });
                self.slots.insert(key, slot);
                slot
            }
        };
        let at = slot as usize * self.dimensions;
        self.codes[at..at + self.dimensions].copy_from_slice(code);
    }

    pub(crate) fn remove(&mut self, key: u64) {
        if let Some(slot) = self.slots.remove(&key) {
            self.free.push(slot);
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<&[i8]> {
        let at = *self.slots.get(&key)? as usize * self.dimensions;
        self.codes.get(at..at + self.dimensions)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of memory the vectors and their slots take (roughly: the map's own overhead is
    /// counted as a slot per entry).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.codes.capacity() + self.slots.capacity() * 16
    }

    /// Every key and its vector, as `save` writes them: the key little-endian, then the bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.slots.len() * (8 + self.dimensions));
        for (key, slot) in &self.slots {
            let at = *slot as usize * self.dimensions;
            bytes.extend_from_slice(&key.to_le_bytes());
            bytes.extend(
                self.codes[at..at + self.dimensions]
                    .iter()
                    .map(|b| *b as u8),
            );
        }
        bytes
    }

    /// What [`Wholes::to_bytes`] wrote, or `None` when the bytes are not whole records.
    pub(crate) fn from_bytes(dimensions: usize, bytes: &[u8]) -> Option<Self> {
        let record = 8 + dimensions;
        if !bytes.len().is_multiple_of(record) {
            return None;
        }
        let mut wholes = Self::new(dimensions);
        wholes.reserve(bytes.len() / record);
        let mut code = vec![0_i8; dimensions];
        for chunk in bytes.chunks_exact(record) {
            let (key, rest) = chunk.split_at(8);
            for (c, b) in code.iter_mut().zip(rest) {
                *c = *b as i8;
            }
            wholes.insert(u64::from_le_bytes(key.try_into().ok()?), &code);
        }
        Some(wholes)
    }
}

/// Squared Euclidean distance of two quantised vectors, in quanta².
pub(crate) fn squared_distance(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            let d = i32::from(*x) - i32::from(*y);
            d * d
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_reused_and_the_bytes_round_trip() {
        let mut w = Wholes::new(3);
        w.insert(10, &[1, 2, 3]);
        w.insert(20, &[-4, 5, -6]);
        w.remove(10);
        w.insert(30, &[7, 8, 9]);
        assert_eq!(w.codes.len(), 6, "slot of 10 reused");
        w.insert(20, &[0, 0, -127]);
        assert_eq!(
            (w.get(10), w.get(20), w.get(30)),
            (None, Some(&[0, 0, -127][..]), Some(&[7, 8, 9][..]))
        );
        let back = Wholes::from_bytes(3, &w.to_bytes()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back.get(20), back.get(30)), (w.get(20), w.get(30)));
        assert!(Wholes::from_bytes(3, &[0; 12]).is_none());
        assert_eq!(squared_distance(&[1, -1, 0], &[-2, 3, 0]), 9 + 16);
    }
}
