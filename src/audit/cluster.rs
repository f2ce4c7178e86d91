//! Union-find and duplicate clusters shared by exact dedup, near dedup and split grouping.
//!
//! A cluster's representative is chosen deterministically from a caller-supplied rank (lower
//! wins, ties broken by input order), never by hash order or thread timing.

use serde::{Deserialize, Serialize};

/// Disjoint sets over `0..n` with path halving and union by size.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        assert!(
            n <= u32::MAX as usize,
            "union-find holds at most 2^32-1 items"
        );
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] as usize != x {
            let grand = self.parent[self.parent[x] as usize];
            self.parent[x] = grand;
            x = grand as usize;
        }
        x
    }

    /// Merge the sets of `a` and `b`; returns true when they were separate.
    pub fn union(&mut self, a: usize, b: usize) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra] < self.size[rb] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb] = ra as u32;
        self.size[ra] += self.size[rb];
        true
    }

    /// Component id per item, numbered 0.. in order of each component's smallest member.
    pub fn component_ids(&mut self) -> Vec<usize> {
        let n = self.len();
        let mut root_to_id = vec![usize::MAX; n];
        let mut ids = Vec::with_capacity(n);
        let mut next = 0;
        for i in 0..n {
            let r = self.find(i);
            if root_to_id[r] == usize::MAX {
                root_to_id[r] = next;
                next += 1;
            }
            ids.push(root_to_id[r]);
        }
        ids
    }

    /// Components with at least two members as clusters. `rank` (lower is better) picks the
    /// representative; ties go to the smallest index. Members are sorted; clusters are ordered by
    /// their smallest member.
    pub fn clusters(&mut self, rank: Option<&[u64]>) -> Vec<Cluster> {
        let ids = self.component_ids();
        let n_comp = ids.iter().copied().max().map_or(0, |m| m + 1);
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_comp];
        for (i, &c) in ids.iter().enumerate() {
            members[c].push(i);
        }
        members
            .into_iter()
            .filter(|m| m.len() > 1)
            .map(|members| {
                let representative = *members
                    .iter()
                    .min_by_key(|&&i| (rank.map_or(0, |r| r[i]), i))
                    .expect("cluster has members");
                Cluster {
                    members,
                    representative,
                }
            })
            .collect()
    }
}

/// A set of duplicate items (indices into the caller's input) and the one to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Input indices, ascending; always at least two.
    pub members: Vec<usize>,
    /// The member to keep: lowest rank, then lowest index.
    pub representative: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_follow_unions_and_rank() {
        let mut uf = UnionFind::new(6);
        assert!(uf.union(4, 1));
        assert!(uf.union(1, 5));
        assert!(!uf.union(5, 4));
        assert!(uf.union(0, 2));
        let plain = uf.clusters(None);
        assert_eq!(
            plain,
            vec![
                Cluster {
                    members: vec![0, 2],
                    representative: 0
                },
                Cluster {
                    members: vec![1, 4, 5],
                    representative: 1
                },
            ]
        );
        // Item 5 has the best rank in its cluster; 0 and 2 tie, so index order decides.
        let rank = [3, 9, 3, 0, 9, 1];
        let ranked = uf.clusters(Some(&rank));
        assert_eq!(ranked[0].representative, 0);
        assert_eq!(ranked[1].representative, 5);
        assert_eq!(uf.component_ids(), vec![0, 1, 0, 2, 1, 1]);
    }
}
