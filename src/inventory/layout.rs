//! Building a seat layout from rows described as blocks of seats separated by aisles.
//! Pure rules: the partner API and the demo seed both describe screens this way.

use serde::Deserialize;
use utoipa::ToSchema;

use super::model::{LayoutSeat, SeatCategory};

pub const MAX_ROWS: usize = 60;
pub const MAX_SEATS_PER_ROW: usize = 80;
pub const MAX_SEATS: usize = 2_000;

/// One row of a screen, front to back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RowSpec {
    /// Row label, 1–3 upper-case letters: `A`, `B`, … `AA`.
    pub label: String,
    pub category: SeatCategory,
    /// Seats per block, left to right; one aisle column separates consecutive blocks.
    pub blocks: Vec<u16>,
    /// Empty columns before the first seat (to centre short rows).
    #[serde(default)]
    pub offset: u16,
    /// Seat numbers (1-based within the row) that are wheelchair accessible.
    #[serde(default)]
    pub accessible: Vec<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("a layout needs at least one row with seats")]
    Empty,
    #[error("a layout has at most {MAX_ROWS} rows")]
    TooManyRows,
    #[error("row {0:?}: labels are 1 to 3 upper-case letters")]
    BadRowLabel(String),
    #[error("row {0} appears twice")]
    DuplicateRow(String),
    #[error(
        "row {0}: blocks must each hold 1 or more seats and at most {MAX_SEATS_PER_ROW} in all"
    )]
    BadRow(String),
    #[error("row {row}: accessible seat {seat} does not exist")]
    UnknownAccessibleSeat { row: String, seat: u16 },
    #[error("a layout has at most {MAX_SEATS} seats")]
    TooManySeats,
}

/// The seats of a layout, labelled `A1`, `A2`, … and placed on a grid where aisles and
/// offsets are empty columns.
pub fn build_layout(rows: &[RowSpec]) -> Result<Vec<LayoutSeat>, LayoutError> {
    if rows.is_empty() {
        return Err(LayoutError::Empty);
    }
    if rows.len() > MAX_ROWS {
        return Err(LayoutError::TooManyRows);
    }
    let mut seats = Vec::new();
    let mut seen: Vec<&str> = Vec::with_capacity(rows.len());
    for (row_index, row) in rows.iter().enumerate() {
        let label = row.label.as_str();
        if !(1..=3).contains(&label.len()) || !label.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(LayoutError::BadRowLabel(row.label.clone()));
        }
        if seen.contains(&label) {
            return Err(LayoutError::DuplicateRow(row.label.clone()));
        }
        seen.push(label);
        let in_row: usize = row.blocks.iter().map(|&n| usize::from(n)).sum();
        if row.blocks.is_empty() || row.blocks.contains(&0) || in_row > MAX_SEATS_PER_ROW {
            return Err(LayoutError::BadRow(row.label.clone()));
        }
        if let Some(&seat) = row
            .accessible
            .iter()
            .find(|&&n| n == 0 || usize::from(n) > in_row)
        {
            return Err(LayoutError::UnknownAccessibleSeat {
                row: row.label.clone(),
                seat,
            });
        }
        let mut col = row.offset;
        let mut number: u16 = 0;
        for (block_index, &block) in row.blocks.iter().enumerate() {
            if block_index > 0 {
                col += 1; // the aisle
            }
            for _ in 0..block {
                number += 1;
                seats.push(LayoutSeat {
                    label: format!("{label}{number}"),
                    row_label: label.to_owned(),
                    row_index: row_index as u16,
                    col_index: col,
                    category: row.category,
                    accessible: row.accessible.contains(&number),
                });
                col += 1;
            }
        }
        if seats.len() > MAX_SEATS {
            return Err(LayoutError::TooManySeats);
        }
    }
    Ok(seats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, category: SeatCategory, blocks: &[u16]) -> RowSpec {
        RowSpec {
            label: label.into(),
            category,
            blocks: blocks.to_vec(),
            offset: 0,
            accessible: vec![],
        }
    }

    #[test]
    fn aisles_are_empty_columns_and_numbers_run_across_blocks() {
        let seats = build_layout(&[row("A", SeatCategory::Regular, &[2, 3])]).unwrap();
        let placed: Vec<_> = seats
            .iter()
            .map(|s| (s.label.as_str(), s.col_index))
            .collect();
        assert_eq!(
            placed,
            [("A1", 0), ("A2", 1), ("A3", 3), ("A4", 4), ("A5", 5)]
        );
    }

    #[test]
    fn offset_and_accessible_seats_are_applied() {
        let mut spec = row("B", SeatCategory::Recliner, &[4]);
        spec.offset = 2;
        spec.accessible = vec![1, 4];
        let seats = build_layout(&[row("A", SeatCategory::Regular, &[8]), spec]).unwrap();
        let b1 = seats.iter().find(|s| s.label == "B1").unwrap();
        assert_eq!((b1.row_index, b1.col_index, b1.accessible), (1, 2, true));
        assert!(!seats.iter().find(|s| s.label == "B2").unwrap().accessible);
        assert_eq!(seats.len(), 12);
    }

    #[test]
    fn malformed_layouts_are_refused() {
        let regular = SeatCategory::Regular;
        assert_eq!(build_layout(&[]), Err(LayoutError::Empty));
        assert!(matches!(
            build_layout(&[row("a", regular, &[1])]),
            Err(LayoutError::BadRowLabel(_))
        ));
        assert!(matches!(
            build_layout(&[row("A", regular, &[1]), row("A", regular, &[1])]),
            Err(LayoutError::DuplicateRow(_))
        ));
        assert!(matches!(
            build_layout(&[row("A", regular, &[0])]),
            Err(LayoutError::BadRow(_))
        ));
        assert!(matches!(
            build_layout(&[row("A", regular, &[81])]),
            Err(LayoutError::BadRow(_))
        ));
        let mut spec = row("A", regular, &[3]);
        spec.accessible = vec![4];
        assert!(matches!(
            build_layout(&[spec]),
            Err(LayoutError::UnknownAccessibleSeat { .. })
        ));
    }
}
