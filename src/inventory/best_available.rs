//! "Best N seats": which free seats to propose when a customer asks for N of them.
//!
//! A pure function over the seat map. The proposal, in order of what matters:
//! 1. **together**: N neighbouring seats of one row (aisles are empty grid cells, so a block
//!    never spans one) whenever such a block exists; otherwise N seats of one row as close
//!    together as they come; otherwise the N seats nearest the focal point;
//! 2. **no stranded seat**: among the options of the same kind, one that leaves no free
//!    seat alone between taken seats, an aisle or a row end (nobody buys it) when such an
//!    option exists, else the fewest;
//! 3. **nearest the focal point**: the screen's centre line, two thirds of the way back
//!    from the screen (row 0 faces it), by the centre of the block;
//! 4. ties by row, then column, so the same map always gives the same proposal.
//!
//! With `accessible`, the proposal includes an accessible seat and, for two or more seats,
//! is one block, so the companion sits beside it.

use std::collections::{BTreeMap, BTreeSet};

use super::model::SeatCategory;

/// One seat of the map, as the function needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSeat<'a> {
    pub label: &'a str,
    pub row: u16,
    pub col: u16,
    pub category: SeatCategory,
    pub accessible: bool,
    /// Available now (an expired hold is available).
    pub free: bool,
}

/// What the customer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub count: usize,
    pub category: Option<SeatCategory>,
    pub accessible: bool,
}

impl Wanted {
    /// What was asked for, for a refusal: "3 free recliner seats together, one of them
    /// accessible".
    pub fn describe(self) -> String {
        let category = self
            .category
            .map(|c| format!(" {}", c.as_str()))
            .unwrap_or_default();
        let plural = if self.count == 1 { "" } else { "s" };
        let accessible = match (self.accessible, self.count) {
            (false, _) => "",
            (true, 1) => ", accessible",
            (true, _) => " together, one of them accessible",
        };
        format!("{} free{category} seat{plural}{accessible}", self.count)
    }
}

/// The seats proposed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal<'a> {
    /// In row, then column order.
    pub seats: Vec<MapSeat<'a>>,
    /// One block of neighbouring seats in one row.
    pub together: bool,
    /// Free seats the proposal would leave stranded.
    pub stranded: usize,
}

/// The grid the seats sit on.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub rows: u16,
    pub cols: u16,
}

/// The best seats for `wanted`, or `None` when the free seats cannot satisfy it.
pub fn best_available<'a>(
    seats: &[MapSeat<'a>],
    grid: Grid,
    wanted: Wanted,
) -> Option<Proposal<'a>> {
    if wanted.count == 0 {
        return None;
    }
    let map = SeatIndex::new(seats);
    let eligible =
        |seat: &MapSeat<'_>| seat.free && wanted.category.is_none_or(|c| c == seat.category);
    let focal = Focal::of(grid);

    // 1. Blocks of neighbours.
    let mut best: Option<(Key, Vec<MapSeat<'a>>)> = None;
    for row in map.rows.values() {
        for window in row.windows(wanted.count) {
            let neighbours = window.windows(2).all(|pair| pair[1].col == pair[0].col + 1);
            if !neighbours || !window.iter().all(eligible) {
                continue;
            }
            if wanted.accessible && !window.iter().any(|s| s.accessible) {
                continue;
            }
            consider(&mut best, window, &map, focal, 0);
        }
    }
    if let Some((key, chosen)) = best {
        return Some(Proposal {
            seats: chosen,
            together: true,
            stranded: key.stranded,
        });
    }
    if wanted.accessible && wanted.count > 1 {
        // The companion must sit beside the accessible seat.
        return None;
    }

    // 2. One row, as close together as they come.
    for row in map.rows.values() {
        let free: Vec<MapSeat<'a>> = row.iter().copied().filter(eligible).collect();
        for window in free.windows(wanted.count) {
            if wanted.accessible && !window.iter().any(|s| s.accessible) {
                continue;
            }
            let spread = window[window.len() - 1].col - window[0].col;
            consider(&mut best, window, &map, focal, u32::from(spread));
        }
    }
    if let Some((key, chosen)) = best {
        return Some(Proposal {
            seats: chosen,
            together: false,
            stranded: key.stranded,
        });
    }

    // 3. Anywhere: the seats nearest the focal point.
    let mut nearest: Vec<MapSeat<'a>> = map
        .rows
        .values()
        .flatten()
        .copied()
        .filter(eligible)
        .collect();
    nearest.sort_by_key(|s| (focal.distance(s.row, s.col, s.col), s.row, s.col));
    if wanted.accessible {
        let first = nearest.iter().position(|s| s.accessible)?;
        nearest[..=first].rotate_right(1);
    }
    if nearest.len() < wanted.count {
        return None;
    }
    nearest.truncate(wanted.count);
    nearest.sort_by_key(|s| (s.row, s.col));
    let stranded = map.stranded_by(&nearest);
    Some(Proposal {
        seats: nearest,
        together: false,
        stranded,
    })
}

/// How an option ranks: lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    stranded: usize,
    spread: u32,
    distance: u32,
    row: u16,
    col: u16,
}

/// Keeps `option` as `best` if it ranks better; copied only then.
fn consider<'a>(
    best: &mut Option<(Key, Vec<MapSeat<'a>>)>,
    option: &[MapSeat<'a>],
    map: &SeatIndex<'a>,
    focal: Focal,
    spread: u32,
) {
    let (first, last) = (option[0], option[option.len() - 1]);
    let key = Key {
        stranded: map.stranded_by(option),
        spread,
        distance: focal.distance(first.row, first.col, last.col),
        row: first.row,
        col: first.col,
    };
    if best.as_ref().is_none_or(|(current, _)| key < *current) {
        *best = Some((key, option.to_vec()));
    }
}

/// The focal point in half-cells, so every distance is a whole number.
#[derive(Debug, Clone, Copy)]
struct Focal {
    row2: i64,
    col2: i64,
}

impl Focal {
    fn of(grid: Grid) -> Self {
        let last_row = i64::from(grid.rows.max(1) - 1);
        Self {
            // Two thirds of the way back, rounded to a half-row.
            row2: (last_row * 4 + 1) / 3,
            col2: i64::from(grid.cols.max(1) - 1),
        }
    }

    /// Distance from the focal point to the centre of seats `first_col..=last_col` of `row`.
    fn distance(self, row: u16, first_col: u16, last_col: u16) -> u32 {
        let across = (i64::from(first_col) + i64::from(last_col) - self.col2).abs();
        let back = (2 * i64::from(row) - self.row2).abs();
        u32::try_from(across + back).unwrap_or(u32::MAX)
    }
}

/// The seats by row, each row in column order.
struct SeatIndex<'a> {
    rows: BTreeMap<u16, Vec<MapSeat<'a>>>,
}

impl<'a> SeatIndex<'a> {
    fn new(seats: &[MapSeat<'a>]) -> Self {
        let mut rows: BTreeMap<u16, Vec<MapSeat<'a>>> = BTreeMap::new();
        for seat in seats {
            rows.entry(seat.row).or_default().push(*seat);
        }
        for row in rows.values_mut() {
            row.sort_by_key(|s| s.col);
            row.dedup_by_key(|s| s.col);
        }
        Self { rows }
    }

    fn at(&self, row: u16, col: u16) -> Option<&MapSeat<'a>> {
        let seats = self.rows.get(&row)?;
        seats
            .binary_search_by_key(&col, |s| s.col)
            .ok()
            .map(|i| &seats[i])
    }

    /// Free seats (of any category) beside `taking` that would have no free neighbour
    /// left once `taking` is sold.
    fn stranded_by(&self, taking: &[MapSeat<'_>]) -> usize {
        let taken: BTreeSet<(u16, u16)> = taking.iter().map(|s| (s.row, s.col)).collect();
        let free_after = |row: u16, col: Option<u16>| {
            col.and_then(|col| self.at(row, col))
                .is_some_and(|s| s.free && !taken.contains(&(s.row, s.col)))
        };
        let mut stranded = BTreeSet::new();
        for seat in taking {
            for col in [seat.col.checked_sub(1), seat.col.checked_add(1)] {
                let Some(col) = col else { continue };
                if !free_after(seat.row, Some(col)) {
                    continue;
                }
                let alone = !free_after(seat.row, col.checked_sub(1))
                    && !free_after(seat.row, col.checked_add(1));
                if alone {
                    stranded.insert((seat.row, col));
                }
            }
        }
        stranded.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A map from text: one line per row, `.` free, `x` taken, `a` free accessible,
    /// ` ` no seat (aisle); every seat regular. Labels are row letter + column.
    fn map(rows: &[&str]) -> (Vec<MapSeat<'static>>, Grid) {
        let mut seats = Vec::new();
        for (r, line) in rows.iter().enumerate() {
            for (c, cell) in line.chars().enumerate() {
                if cell == ' ' {
                    continue;
                }
                let label: &'static str =
                    Box::leak(format!("{}{}", (b'A' + r as u8) as char, c + 1).into_boxed_str());
                seats.push(MapSeat {
                    label,
                    row: r as u16,
                    col: c as u16,
                    category: SeatCategory::Regular,
                    accessible: cell == 'a',
                    free: cell != 'x',
                });
            }
        }
        let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0) as u16;
        (
            seats,
            Grid {
                rows: rows.len() as u16,
                cols,
            },
        )
    }

    fn want(count: usize) -> Wanted {
        Wanted {
            count,
            category: None,
            accessible: false,
        }
    }

    fn labels(proposal: &Option<Proposal<'_>>) -> Vec<String> {
        proposal
            .iter()
            .flat_map(|p| &p.seats)
            .map(|s| s.label.to_owned())
            .collect()
    }

    #[test]
    fn a_block_nearest_the_focal_point_is_chosen() {
        // Focal row: two thirds back of rows 0..=3 is row 2; centre of 9 columns is col 4.
        let (seats, grid) = map(&[".........", ".........", ".........", "........."]);
        let best = best_available(&seats, grid, want(3));
        assert_eq!(labels(&best), ["C4", "C5", "C6"]);
        assert!(best.unwrap().together);
        // An even count straddles the centre line, leftmost first on a tie.
        assert_eq!(labels(&best_available(&seats, grid, want(2))), ["C4", "C5"]);
    }

    #[test]
    fn a_block_never_spans_an_aisle() {
        let (seats, grid) = map(&["xxx.. ..xxx"]);
        let best = best_available(&seats, grid, want(3));
        assert!(!best.as_ref().unwrap().together);
        assert_eq!(labels(&best), ["A4", "A5", "A7"]);
    }

    #[test]
    fn no_seat_is_stranded_when_a_block_leaves_none() {
        // A3..A5 is as near the centre line as A4..A6 and earlier, but would leave A2 and
        // A6 alone beside taken seats; A4..A6 leaves A2, A3 together.
        let (seats, grid) = map(&["x.....xx"]);
        let best = best_available(&seats, grid, want(3));
        assert_eq!(labels(&best), ["A4", "A5", "A6"]);
        assert_eq!(best.unwrap().stranded, 0);
    }

    #[test]
    fn a_stranded_seat_is_accepted_only_when_every_option_strands_one() {
        let (seats, grid) = map(&["x...x"]);
        // Two of three free seats always strand the third.
        let best = best_available(&seats, grid, want(2)).unwrap();
        assert_eq!(best.stranded, 1);
        assert!(best.together);
    }

    #[test]
    fn accessible_requests_include_an_accessible_seat_beside_the_companion() {
        let (seats, grid) = map(&["a........", ".........", "........a"]);
        let mut wanted = want(2);
        wanted.accessible = true;
        let best = best_available(&seats, grid, wanted);
        assert_eq!(labels(&best), ["C8", "C9"]);
        wanted.count = 1;
        assert_eq!(labels(&best_available(&seats, grid, wanted)), ["C9"]);
        // No accessible seat with a free neighbour: no proposal for two.
        let (seats, grid) = map(&["ax.......", "........."]);
        wanted.count = 2;
        assert_eq!(best_available(&seats, grid, wanted), None);
    }

    #[test]
    fn a_category_limits_the_seats_and_too_few_free_seats_give_none() {
        let (mut seats, grid) = map(&["....", "...."]);
        for seat in seats.iter_mut().filter(|s| s.row == 0) {
            seat.category = SeatCategory::Premium;
        }
        let wanted = Wanted {
            count: 3,
            category: Some(SeatCategory::Premium),
            accessible: false,
        };
        let best = best_available(&seats, grid, wanted).unwrap();
        assert!(
            best.seats
                .iter()
                .all(|s| s.category == SeatCategory::Premium)
        );
        assert_eq!(
            best_available(&seats, grid, Wanted { count: 5, ..wanted }),
            None
        );
        assert_eq!(best_available(&seats, grid, want(0)), None);
    }

    #[test]
    fn scattered_seats_come_from_one_row_before_several() {
        let (seats, grid) = map(&[".x.x.", "x.x.x"]);
        let best = best_available(&seats, grid, want(3)).unwrap();
        assert!(!best.together);
        assert!(best.seats.iter().all(|s| s.row == 0));
        let best = best_available(&seats, grid, want(4)).unwrap();
        assert_eq!(best.seats.len(), 4);
    }

    // --- Properties over random maps ----------------------------------------------------

    /// A cell of a random map: row, column, category index, accessible, free.
    type Cell = (u16, u16, u8, bool, bool);

    fn arbitrary_map() -> impl Strategy<Value = (Vec<Cell>, u16, u16)> {
        (1u16..8, 1u16..16).prop_flat_map(|(rows, cols)| {
            let cells = (rows as usize) * (cols as usize);
            (
                proptest::collection::vec((0u8..10, 0u8..3, any::<bool>(), 0u8..3), cells),
                Just(rows),
                Just(cols),
            )
                .prop_map(move |(cells, rows, cols)| {
                    let seats = cells
                        .into_iter()
                        .enumerate()
                        // 0: aisle; 1..=3: taken; else free.
                        .filter(|(_, (kind, ..))| *kind != 0)
                        .map(|(i, (kind, category, accessible, _))| {
                            let (row, col) =
                                ((i / cols as usize) as u16, (i % cols as usize) as u16);
                            (row, col, category, accessible, kind > 3)
                        })
                        .collect();
                    (seats, rows, cols)
                })
        })
    }

    fn build(cells: &[Cell]) -> Vec<MapSeat<'static>> {
        cells
            .iter()
            .map(|&(row, col, category, accessible, free)| MapSeat {
                label: Box::leak(format!("{row}-{col}").into_boxed_str()),
                row,
                col,
                category: SeatCategory::ALL[category as usize],
                accessible,
                free,
            })
            .collect()
    }

    /// Every block of `count` neighbouring eligible seats, as the function defines them.
    fn blocks<'a>(seats: &[MapSeat<'a>], wanted: Wanted) -> Vec<Vec<MapSeat<'a>>> {
        let index = SeatIndex::new(seats);
        let mut out = Vec::new();
        for row in index.rows.values() {
            for window in row.windows(wanted.count) {
                let ok = window.windows(2).all(|p| p[1].col == p[0].col + 1)
                    && window
                        .iter()
                        .all(|s| s.free && wanted.category.is_none_or(|c| c == s.category))
                    && (!wanted.accessible || window.iter().any(|s| s.accessible));
                if ok {
                    out.push(window.to_vec());
                }
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn proposals_are_free_of_the_right_kind_together_when_possible_and_strand_least(
            (cells, rows, cols) in arbitrary_map(),
            count in 1usize..6,
            category in proptest::option::of(0usize..3),
            accessible in any::<bool>(),
        ) {
            let seats = build(&cells);
            let grid = Grid { rows, cols };
            let wanted = Wanted { count, category: category.map(|c| SeatCategory::ALL[c]), accessible };
            let proposal = best_available(&seats, grid, wanted);
            let eligible: Vec<&MapSeat<'_>> = seats
                .iter()
                .filter(|s| s.free && wanted.category.is_none_or(|c| c == s.category))
                .collect();
            let options = blocks(&seats, wanted);
            let index = SeatIndex::new(&seats);
            match &proposal {
                None => {
                    prop_assert!(options.is_empty());
                    prop_assert!(
                        eligible.len() < count
                            || (accessible && (count > 1 || !eligible.iter().any(|s| s.accessible)))
                    );
                }
                Some(p) => {
                    prop_assert_eq!(p.seats.len(), count);
                    let distinct: BTreeSet<(u16, u16)> = p.seats.iter().map(|s| (s.row, s.col)).collect();
                    prop_assert_eq!(distinct.len(), count);
                    for seat in &p.seats {
                        prop_assert!(seat.free);
                        prop_assert!(wanted.category.is_none_or(|c| c == seat.category));
                    }
                    if accessible {
                        prop_assert!(p.seats.iter().any(|s| s.accessible));
                    }
                    prop_assert_eq!(p.together, !options.is_empty());
                    if p.together {
                        prop_assert!(p.seats.windows(2).all(|w| w[0].row == w[1].row && w[1].col == w[0].col + 1));
                        let fewest = options.iter().map(|o| index.stranded_by(o)).min().unwrap_or(0);
                        prop_assert_eq!(p.stranded, fewest);
                    }
                    prop_assert_eq!(p.stranded, index.stranded_by(&p.seats));
                }
            }
            // The same map in another order gives the same proposal.
            let mut reversed = seats.clone();
            reversed.reverse();
            prop_assert_eq!(best_available(&reversed, grid, wanted), proposal);
        }
    }
}
