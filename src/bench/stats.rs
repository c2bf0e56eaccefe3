//! Min/median/max of repeated measurements. Benchmarks on a shared machine
//! vary from run to run; the spread is reported rather than hidden behind
//! one number.

use serde::{Deserialize, Serialize};

/// The spread of one figure over several runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// How many runs the figure is over.
    pub runs: usize,
}

impl Summary {
    /// `None` for no values; NaNs are ignored because a figure that could
    /// not be computed must not poison the others.
    pub fn of(values: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            min: v[0],
            median,
            max: v[n - 1],
            runs: n,
        })
    }

    /// `min / median / max` with `decimals` digits, or one value when all
    /// runs agree (request counts usually do).
    pub fn show(&self, decimals: usize) -> String {
        let f = |x: f64| format!("{x:.decimals$}");
        if f(self.min) == f(self.max) {
            f(self.median)
        } else {
            format!("{} / {} / {}", f(self.min), f(self.median), f(self.max))
        }
    }

    /// Every value multiplied by `factor` (per-server figures from totals).
    pub fn scaled(&self, factor: f64) -> Summary {
        let (a, b) = (self.min * factor, self.max * factor);
        Summary {
            min: a.min(b),
            median: self.median * factor,
            max: a.max(b),
            runs: self.runs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_and_even_counts_have_the_usual_median() {
        let s = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.runs), (1.0, 2.0, 3.0, 3));
        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
    }

    #[test]
    fn nothing_to_summarise_is_none_and_nans_are_skipped() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[f64::NAN]).is_none());
        let s = Summary::of(&[f64::NAN, 5.0]).unwrap();
        assert_eq!((s.min, s.max, s.runs), (5.0, 5.0, 1));
    }

    #[test]
    fn equal_runs_show_one_value_and_spread_shows_three() {
        assert_eq!(Summary::of(&[7.0, 7.0, 7.0]).unwrap().show(0), "7");
        assert_eq!(
            Summary::of(&[1.0, 2.0, 3.0]).unwrap().show(1),
            "1.0 / 2.0 / 3.0"
        );
    }

    #[test]
    fn scaling_by_a_negative_factor_keeps_min_below_max() {
        let s = Summary::of(&[1.0, 2.0, 4.0]).unwrap().scaled(-1.0);
        assert!(s.min <= s.median && s.median <= s.max);
        let s = Summary::of(&[10.0, 20.0]).unwrap().scaled(0.1);
        assert!((s.min - 1.0).abs() < 1e-9 && (s.max - 2.0).abs() < 1e-9);
    }
}
