//! A node's `status.images`: every name an image is known by, with its size, sorted by name, and
//! a 128-bit filter of the names kept inline. ImageLocality asks every feasible node whether it
//! holds the pod's images; most nodes do not hold a given image, and the filter answers that
//! without touching the list (a cache miss per node on a large cluster).

use lasso::Key;

use crate::intern::Sym;

/// kube's `normalizedImageName`: an image without a tag means `:latest`. A digest or tag after
/// the last `/` counts as given.
pub fn normalized_image_name(image: &str) -> String {
    let colon = image.rfind(':');
    let slash = image.rfind('/');
    if colon.is_none() || colon < slash {
        format!("{image}:latest")
    } else {
        image.to_owned()
    }
}

/// The names apart from the sizes: a name is 4 bytes, so a node's 30-odd names fill two or three
/// cache lines that `touch` loads ahead of ImageLocality's search (as pairs they spanned eight,
/// and each step of the search took a miss of its own); the size is read only on a hit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeImages {
    filter: u128,
    names: Box<[Sym]>,
    sizes: Box<[i64]>,
}

fn bit(image: Sym) -> u128 {
    // Interned symbols are dense small integers: spread them over the 128 bits.
    let h = (image.into_usize() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1u128 << (h >> 57)
}

impl NodeImages {
    /// From (name, size) pairs in any order; a name given twice keeps its first size.
    pub fn new(mut list: Vec<(Sym, i64)>) -> Self {
        list.sort_by_key(|&(name, _)| name);
        list.dedup_by_key(|&mut (name, _)| name);
        Self {
            filter: list.iter().fold(0, |f, &(name, _)| f | bit(name)),
            names: list.iter().map(|&(name, _)| name).collect(),
            sizes: list.iter().map(|&(_, size)| size).collect(),
        }
    }

    /// The size of `image` on this node, if the node has it.
    pub fn size(&self, image: Sym) -> Option<i64> {
        if self.filter & bit(image) == 0 {
            return None;
        }
        self.names.binary_search(&image).ok().map(|i| self.sizes[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = (Sym, i64)> + '_ {
        self.names.iter().copied().zip(self.sizes.iter().copied())
    }

    /// Loads the names' cache lines (first, middle, last: up to 48 names), for `warm`; the
    /// value is only there to be used.
    pub fn touch(&self) -> usize {
        let at = |i: usize| self.names.get(i).map_or(0, |&name| name.into_usize());
        at(0)
            .wrapping_add(at(self.names.len() / 2))
            .wrapping_add(at(self.names.len().wrapping_sub(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intern::sym;

    #[test]
    fn sizes_by_name_and_absent_names() {
        let images = NodeImages::new(
            (0..40)
                .map(|i| (sym(&format!("img-{i}:v1")), i64::from(i) + 1))
                .collect(),
        );
        for i in 0..40 {
            assert_eq!(
                images.size(sym(&format!("img-{i}:v1"))),
                Some(i64::from(i) + 1)
            );
        }
        for i in 40..400 {
            assert_eq!(images.size(sym(&format!("img-{i}:v1"))), None);
        }
        assert_eq!(NodeImages::default().size(sym("img-1:v1")), None);
        assert_eq!(images.iter().count(), 40);
        assert!(
            images
                .iter()
                .all(|(name, size)| images.size(name) == Some(size))
        );
    }
}
