//! The price rules' arithmetic: a seat's price before offers, from its category's price
//! and the rules that apply to the show. Pure, and exact to the minor unit.
//!
//! In order:
//! 1. The show's rules are ordered by kind (`RuleKind::stacking_rank`: calendar, time
//!    band, format, demand), platform rules before a partner's within a kind, then by id.
//! 2. Each rule that matches the show (and the seat's category) moves the current price by
//!    its signed basis points, rounded half away from zero to the minor unit; then the
//!    rule's bounds for the category, if any, bring the price within its floor and cap.
//! 3. A price never goes below zero.
//!
//! Offers then discount this price (`offers::quote`), and the fee is added last.

use chrono::NaiveTime;

use super::model::{AppliedRule, Day, PriceRule, RuleKind};
use crate::{
    inventory::model::SeatCategory,
    money::{FULL_BP, Money, MoneyError},
};

/// What the rules see of a show when a price is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricePoint {
    /// The show's local date's day of the week.
    pub day: Day,
    /// Whether that date is a public holiday in the theatre's country.
    pub holiday: bool,
    /// The show's local start time.
    pub local_start: NaiveTime,
    pub format: String,
    /// Basis points of the show's seats sold or held; `None` when not known (no demand
    /// rule applies, so it was not read).
    pub occupancy_bp: Option<u32>,
}

/// `rules` in the order they stack.
pub fn stacking_order(rules: &mut [PriceRule]) {
    rules.sort_by(|a, b| {
        a.kind
            .stacking_rank()
            .cmp(&b.kind.stacking_rank())
            .then_with(|| a.scope.org_id.is_some().cmp(&b.scope.org_id.is_some()))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// The signed basis points `kind` moves a price by at `point`; `None` if it does not
/// match.
fn percent_at(kind: &RuleKind, point: &PricePoint) -> Option<i32> {
    match kind {
        RuleKind::DayOfWeek { days, percent_bp } => {
            days.contains(&point.day).then_some(*percent_bp)
        }
        RuleKind::Holiday { percent_bp } => point.holiday.then_some(*percent_bp),
        RuleKind::TimeBand {
            from,
            until,
            percent_bp,
        } => in_band(*from, *until, point.local_start).then_some(*percent_bp),
        RuleKind::Format {
            formats,
            percent_bp,
        } => formats
            .iter()
            .any(|f| f.eq_ignore_ascii_case(&point.format))
            .then_some(*percent_bp),
        RuleKind::Demand { tiers } => {
            let occupancy = point.occupancy_bp?;
            tiers
                .iter()
                .filter(|tier| tier.from_occupancy_bp <= occupancy)
                .max_by_key(|tier| tier.from_occupancy_bp)
                .map(|tier| tier.percent_bp)
        }
    }
}

/// `[from, until)`, wrapping past midnight when `from` is after `until`.
pub fn in_band(from: NaiveTime, until: NaiveTime, at: NaiveTime) -> bool {
    if from <= until {
        from <= at && at < until
    } else {
        at >= from || at < until
    }
}

/// `percent_bp` (signed) of `amount`, rounded half away from zero.
fn share(amount: i64, percent_bp: i32) -> Result<i64, MoneyError> {
    let product = i128::from(amount) * i128::from(percent_bp);
    let full = i128::from(FULL_BP);
    let half = full / 2;
    let rounded = if product >= 0 {
        (product + half) / full
    } else {
        (product - half) / full
    };
    i64::try_from(rounded).map_err(|_| MoneyError::Overflow)
}

/// The price of a seat of `category` whose category price is `base`, after `rules`
/// (already in `stacking_order`) at `point`, with each rule's effect.
pub fn seat_price(
    base: Money,
    category: SeatCategory,
    rules: &[PriceRule],
    point: &PricePoint,
) -> Result<(Money, Vec<AppliedRule>), MoneyError> {
    let mut price = base.amount;
    let mut applied = Vec::new();
    for rule in rules {
        if !rule.active || !(rule.categories.is_empty() || rule.categories.contains(&category)) {
            continue;
        }
        let Some(percent) = percent_at(&rule.kind, point) else {
            continue;
        };
        let moved = price
            .checked_add(share(price, percent)?)
            .ok_or(MoneyError::Overflow)?;
        let bounded = rule
            .bounds
            .get(&category)
            .map_or(moved, |bounds| bounds.clamp(moved))
            .max(0);
        applied.push(AppliedRule {
            rule_id: rule.id.clone(),
            rule_name: rule.name.clone(),
            kind: rule.kind.name().to_owned(),
            amount: Money::new(bounded - price, base.currency),
        });
        price = bounded;
    }
    Ok((Money::new(price, base.currency), applied))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::{
        money::Currency,
        pricing::model::{Bounds, DemandTier, RuleScope},
    };

    fn inr(amount: i64) -> Money {
        Money::new(amount, Currency::parse("INR").unwrap())
    }

    fn rule(id: &str, kind: RuleKind) -> PriceRule {
        PriceRule {
            id: id.into(),
            name: format!("rule {id}"),
            kind,
            categories: vec![],
            bounds: BTreeMap::new(),
            scope: RuleScope::default(),
            active: true,
        }
    }

    fn point(day: Day, start: &str, format: &str, occupancy_bp: Option<u32>) -> PricePoint {
        PricePoint {
            day,
            holiday: false,
            local_start: NaiveTime::parse_from_str(start, "%H:%M").unwrap(),
            format: format.into(),
            occupancy_bp,
        }
    }

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn demand(tiers: &[(u32, i32)]) -> RuleKind {
        RuleKind::Demand {
            tiers: tiers
                .iter()
                .map(|&(from_occupancy_bp, percent_bp)| DemandTier {
                    from_occupancy_bp,
                    percent_bp,
                })
                .collect(),
        }
    }

    fn weekend() -> RuleKind {
        RuleKind::DayOfWeek {
            days: vec![Day::Sat, Day::Sun],
            percent_bp: 1_000,
        }
    }

    /// (rules, point, base) → (price, amounts per applied rule).
    #[test]
    fn table_of_prices() {
        let evening = RuleKind::TimeBand {
            from: time("18:00"),
            until: time("23:00"),
            percent_bp: 500,
        };
        let imax = RuleKind::Format {
            formats: vec!["IMAX".into(), "3D".into()],
            percent_bp: 2_500,
        };
        let late = RuleKind::TimeBand {
            from: time("22:00"),
            until: time("02:00"),
            percent_bp: -2_000,
        };
        let demand_rule = demand(&[(0, -1_000), (5_000, 0), (8_000, 2_000)]);
        type Case = (Vec<RuleKind>, PricePoint, i64, i64, Vec<i64>);
        let cases: Vec<Case> = vec![
            // No rule: the category's price.
            (
                vec![],
                point(Day::Sat, "19:00", "2D", None),
                15_000,
                15_000,
                vec![],
            ),
            // Weekend +10%.
            (
                vec![weekend()],
                point(Day::Sat, "19:00", "2D", None),
                15_000,
                16_500,
                vec![1_500],
            ),
            (
                vec![weekend()],
                point(Day::Tue, "19:00", "2D", None),
                15_000,
                15_000,
                vec![],
            ),
            // Weekend then evening, each on the price before it: 15,000 → 16,500 → 17,325.
            (
                vec![evening.clone(), weekend()],
                point(Day::Sun, "18:00", "2D", None),
                15_000,
                17_325,
                vec![1_500, 825],
            ),
            // The band's end is not in it.
            (
                vec![evening.clone()],
                point(Day::Sun, "23:00", "2D", None),
                15_000,
                15_000,
                vec![],
            ),
            // A band past midnight.
            (
                vec![late.clone()],
                point(Day::Mon, "01:30", "2D", None),
                15_000,
                12_000,
                vec![-3_000],
            ),
            (
                vec![late],
                point(Day::Mon, "21:59", "2D", None),
                15_000,
                15_000,
                vec![],
            ),
            // Format, case aside: 333 × 25% = 83.25 → 83.
            (
                vec![imax.clone()],
                point(Day::Mon, "10:00", "imax", None),
                333,
                416,
                vec![83],
            ),
            (
                vec![imax],
                point(Day::Mon, "10:00", "2D", None),
                333,
                333,
                vec![],
            ),
            // Demand tiers: below 50% a discount, from 80% a surcharge; at 50% nothing
            // changes but the rule is listed.
            (
                vec![demand_rule.clone()],
                point(Day::Mon, "10:00", "2D", Some(4_999)),
                15_000,
                13_500,
                vec![-1_500],
            ),
            (
                vec![demand_rule.clone()],
                point(Day::Mon, "10:00", "2D", Some(5_000)),
                15_000,
                15_000,
                vec![0],
            ),
            (
                vec![demand_rule.clone()],
                point(Day::Mon, "10:00", "2D", Some(8_000)),
                15_000,
                18_000,
                vec![3_000],
            ),
            (
                vec![demand_rule.clone()],
                point(Day::Mon, "10:00", "2D", Some(10_000)),
                15_000,
                18_000,
                vec![3_000],
            ),
            // Occupancy unknown: demand does not apply.
            (
                vec![demand_rule],
                point(Day::Mon, "10:00", "2D", None),
                15_000,
                15_000,
                vec![],
            ),
            // Half away from zero: 5 × -10% = -0.5 → -1.
            (
                vec![demand(&[(0, -1_000)])],
                point(Day::Mon, "10:00", "2D", Some(0)),
                5,
                4,
                vec![-1],
            ),
            // Never below zero.
            (
                vec![demand(&[(0, -10_000)])],
                point(Day::Mon, "10:00", "2D", Some(0)),
                15_000,
                0,
                vec![-15_000],
            ),
        ];
        for (i, (kinds, at, base, price, amounts)) in cases.into_iter().enumerate() {
            let mut rules: Vec<PriceRule> = kinds
                .into_iter()
                .enumerate()
                .map(|(n, kind)| rule(&format!("r{n}"), kind))
                .collect();
            stacking_order(&mut rules);
            let (got, applied) = seat_price(inr(base), SeatCategory::Regular, &rules, &at).unwrap();
            assert_eq!(got, inr(price), "case {i}");
            let got_amounts: Vec<i64> = applied.iter().map(|a| a.amount.amount).collect();
            assert_eq!(got_amounts, amounts, "case {i}");
        }
    }

    #[test]
    fn a_demand_rule_keeps_each_category_within_its_floor_and_cap() {
        let mut surge = rule("d", demand(&[(0, -5_000), (9_000, 5_000)]));
        surge.bounds.insert(
            SeatCategory::Regular,
            Bounds {
                floor: Some(12_000),
                cap: Some(18_000),
            },
        );
        let full = point(Day::Mon, "10:00", "2D", Some(9_500));
        let empty = point(Day::Mon, "10:00", "2D", Some(100));
        let rules = [surge];
        // +50% would be 22,500: capped at 18,000. -50% would be 7,500: floored at 12,000.
        let (price, applied) =
            seat_price(inr(15_000), SeatCategory::Regular, &rules, &full).unwrap();
        assert_eq!((price, applied[0].amount), (inr(18_000), inr(3_000)));
        let (price, _) = seat_price(inr(15_000), SeatCategory::Regular, &rules, &empty).unwrap();
        assert_eq!(price, inr(12_000));
        // Premium has no bounds in this rule: +50% as is.
        let (price, _) = seat_price(inr(25_000), SeatCategory::Premium, &rules, &full).unwrap();
        assert_eq!(price, inr(37_500));
    }

    #[test]
    fn rules_for_other_categories_and_inactive_rules_do_not_apply() {
        let mut recliners = rule("a", weekend());
        recliners.categories = vec![SeatCategory::Recliner];
        let mut off = rule("b", weekend());
        off.active = false;
        let rules = [recliners, off];
        let at = point(Day::Sat, "10:00", "2D", None);
        let (price, applied) = seat_price(inr(15_000), SeatCategory::Regular, &rules, &at).unwrap();
        assert_eq!((price, applied.len()), (inr(15_000), 0));
        let (price, _) = seat_price(inr(40_000), SeatCategory::Recliner, &rules, &at).unwrap();
        assert_eq!(price, inr(44_000));
    }

    #[test]
    fn platform_rules_stack_before_partner_rules_of_the_same_kind() {
        let mut partner = rule("a", weekend());
        partner.scope.org_id = Some("org_1".into());
        let platform = rule("z", demand(&[(0, 1_000)]));
        let platform_weekend = rule("y", weekend());
        let mut rules = vec![partner, platform, platform_weekend];
        stacking_order(&mut rules);
        let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["y", "a", "z"]);
    }

    fn any_kind() -> impl Strategy<Value = RuleKind> {
        let percent = -9_999i32..=10_000;
        prop_oneof![
            percent.clone().prop_map(|percent_bp| RuleKind::DayOfWeek {
                days: vec![Day::Mon, Day::Sat],
                percent_bp
            }),
            percent
                .clone()
                .prop_map(|percent_bp| RuleKind::Holiday { percent_bp }),
            percent.clone().prop_map(|percent_bp| RuleKind::TimeBand {
                from: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                until: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
                percent_bp
            }),
            percent.prop_map(|percent_bp| RuleKind::Format {
                formats: vec!["IMAX".into()],
                percent_bp
            }),
        ]
    }

    proptest! {
        /// Whatever the other rules do, a demand rule's floor and cap hold for the final
        /// price; the price is never negative; and the order rules are listed in does not
        /// change it.
        #[test]
        fn the_demand_rules_bounds_hold_whatever_stacks_before_it(
            base in 0i64..10_000_000,
            kinds in proptest::collection::vec(any_kind(), 0..5),
            tiers in proptest::collection::vec((0u32..=10_000, -9_999i32..=10_000), 1..4),
            occupancy in 0u32..=10_000,
            floor in 0i64..1_000_000,
            span in 0i64..1_000_000,
            holiday in any::<bool>(),
            minute in 0u32..1_440,
        ) {
            let mut tiers = tiers;
            tiers.sort_by_key(|t| t.0);
            // Validation makes the first tier start at 0, so a demand rule always applies.
            tiers[0].0 = 0;
            let mut surge = rule("demand", demand(&tiers));
            surge.bounds.insert(SeatCategory::Regular, Bounds { floor: Some(floor), cap: Some(floor + span) });
            let mut rules: Vec<PriceRule> = kinds
                .into_iter()
                .enumerate()
                .map(|(n, kind)| rule(&format!("r{n}"), kind))
                .collect();
            rules.push(surge);
            let at = PricePoint {
                day: Day::Sat,
                holiday,
                local_start: NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap(),
                format: "imax".into(),
                occupancy_bp: Some(occupancy),
            };
            let mut ordered = rules.clone();
            stacking_order(&mut ordered);
            let (price, applied) = seat_price(inr(base), SeatCategory::Regular, &ordered, &at).unwrap();
            prop_assert!(price.amount >= floor && price.amount <= floor + span, "{price:?}");
            let moved: i64 = applied.iter().map(|a| a.amount.amount).sum();
            prop_assert_eq!(base + moved, price.amount);
            rules.reverse();
            stacking_order(&mut rules);
            let (again, _) = seat_price(inr(base), SeatCategory::Regular, &rules, &at).unwrap();
            prop_assert_eq!(again, price);
        }

        /// Without bounds the price only follows the rules' percentages, and never goes
        /// below zero.
        #[test]
        fn prices_are_never_negative(
            base in 0i64..10_000_000,
            kinds in proptest::collection::vec(any_kind(), 0..6),
        ) {
            let mut rules: Vec<PriceRule> = kinds
                .into_iter()
                .enumerate()
                .map(|(n, kind)| rule(&format!("r{n}"), kind))
                .collect();
            stacking_order(&mut rules);
            let at = point(Day::Mon, "10:00", "IMAX", None);
            let (price, _) = seat_price(inr(base), SeatCategory::Regular, &rules, &at).unwrap();
            prop_assert!(price.amount >= 0);
        }
    }
}
