//! C2SP `tlog-tiles` paths (`c2sp.org/tlog-tiles`): which tile a request names.
//!
//! A tile at level `L`, index `N`, width `W` (256 for a full tile) holds the hashes of the full
//! subtrees of 2^(8L) leaves numbered `N * 256 + i`, `i < W`: in [`NodeId`] terms, level `8L`.
//! The path is `<L>/<N>[.p/<W>]` (or `entries/<N>[.p/<W>]` for entry bundles), `N` written as
//! zero-padded 3-digit elements, all but the last prefixed with `x` (`1234067` is
//! `x001/x234/067`).

use crate::merkle::NodeId;

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    /// The tile's level, `None` for an entry bundle.
    pub level: Option<u8>,
    pub index: u64,
    /// 1 to 256; 256 is a full tile.
    pub width: u64,
}

impl Tile {
    /// The tree nodes whose hashes the tile holds, in order (`None` for an entry bundle).
    pub fn nodes(&self) -> Option<Vec<NodeId>> {
        let level = self.level? * 8;
        Some(
            (0..self.width)
                .map(|i| NodeId::new(level, self.index * TILE_WIDTH + i))
                .collect(),
        )
    }

    /// The number of leaves a tree needs to hold all of the tile (its entries' end).
    pub fn leaves_needed(&self) -> Option<u64> {
        let shift = u32::from(self.level.unwrap_or(0)) * 8;
        let end = self
            .index
            .checked_mul(TILE_WIDTH)?
            .checked_add(self.width)?;
        let needed = u128::from(end) << shift;
        u64::try_from(needed).ok()
    }

    /// The path of the tile (without the `tile/` prefix).
    pub fn path(&self) -> String {
        let mut out = match self.level {
            Some(l) => l.to_string(),
            None => "entries".to_string(),
        };
        out.push('/');
        out.push_str(&encode_index(self.index));
        if self.width < TILE_WIDTH {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// Reads a tile path (what follows `tile/`); the message says what is wrong with it.
    pub fn parse(path: &str) -> Result<Tile, &'static str> {
        let mut segs: Vec<&str> = path.split('/').collect();
        let mut width = TILE_WIDTH;
        let n = segs.len();
        if n >= 3
            && let Some(last_index) = segs[n - 2].strip_suffix(".p")
        {
            width = decimal(segs[n - 1])
                .filter(|w| (1..TILE_WIDTH).contains(w))
                .ok_or("the partial width must be 1 to 255, without leading zeros")?;
            segs[n - 2] = last_index;
            segs.pop();
        }
        let (first, rest) = segs.split_first().ok_or("empty tile path")?;
        let level = match *first {
            "entries" => None,
            l => Some(
                decimal(l)
                    .filter(|l| *l < 64)
                    .ok_or("the level must be 0 to 63, or entries")? as u8,
            ),
        };
        if rest.is_empty() {
            return Err("the tile path has no index");
        }
        let mut index: u64 = 0;
        for (i, seg) in rest.iter().enumerate() {
            let digits = if i + 1 < rest.len() {
                seg.strip_prefix('x')
                    .ok_or("index elements but the last start with x")?
            } else {
                seg
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err("index elements are three digits");
            }
            index = index
                .checked_mul(1000)
                .and_then(|n| n.checked_add(digits.parse::<u64>().ok()?))
                .ok_or("the index is too large")?;
        }
        let tile = Tile {
            level,
            index,
            width,
        };
        if encode_index(index) != rest.join("/") {
            return Err("the index is not written canonically");
        }
        if level.is_some_and(|l| l > 7) || tile.leaves_needed().is_none() {
            return Err("no tree this size can exist");
        }
        Ok(tile)
    }
}

fn decimal(s: &str) -> Option<u64> {
    let ok =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    ok.then(|| s.parse().ok()).flatten()
}

/// `1234067` → `x001/x234/067`, `5` → `005`.
pub fn encode_index(mut n: u64) -> String {
    let mut parts = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        parts.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    parts.reverse();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_the_specification_parse_and_print() {
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(5), "005");
        let t = Tile::parse("0/x001/x234/067").unwrap();
        assert_eq!((t.level, t.index, t.width), (Some(0), 1234067, 256));
        let p = Tile::parse("1/000.p/17").unwrap();
        assert_eq!((p.level, p.index, p.width), (Some(1), 0, 17));
        assert_eq!(p.path(), "1/000.p/17");
        assert_eq!(p.nodes().unwrap()[3], NodeId::new(8, 3));
        assert_eq!(p.leaves_needed(), Some(17 * 256));
        let e = Tile::parse("entries/x001/002.p/5").unwrap();
        assert_eq!((e.level, e.index, e.width), (None, 1002, 5));
        assert_eq!(e.nodes(), None);
        assert_eq!(e.path(), "entries/x001/002.p/5");
        for bad in [
            "",
            "0",
            "0/5",
            "0/0005",
            "00/000",
            "64/000",
            "0/x000/005",
            "0/000.p/256",
            "0/000.p/0",
            "0/000.p/07",
            "x/000",
            "0/001/002",
            "0/000/",
            "8/000",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad:?}");
        }
    }
}
