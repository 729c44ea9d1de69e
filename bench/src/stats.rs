//! The statistics of a figure: the median of its runs with the min–max spread, and ratios
//! between implementations computed run by run (round by round), so that a slow moment of
//! the machine, which hits every implementation of one round alike, cancels out.

use serde::Serialize;

/// The median and the range of a set of runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// The middle value (the mean of the two middle values for an even count).
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// How many runs it summarises.
    pub runs: usize,
}

impl Spread {
    /// The spread of the finite values in `values`; `None` when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        let median = if values.len() % 2 == 1 {
            values[middle]
        } else {
            (values[middle - 1] + values[middle]) / 2.0
        };
        Some(Spread {
            median,
            min: values[0],
            max: values[values.len() - 1],
            runs: values.len(),
        })
    }
}

/// The ratios `numerator[i] / denominator[i]` of the runs (rounds) where both exist and
/// the denominator is not zero: each ratio compares two figures of the same round.
pub fn ratios_by_round(numerator: &[Option<f64>], denominator: &[Option<f64>]) -> Vec<f64> {
    numerator
        .iter()
        .zip(denominator)
        .filter_map(|pair| match pair {
            (Some(top), Some(bottom)) if *bottom != 0.0 => Some(top / bottom),
            _ => None,
        })
        .collect()
}

/// The order in which `count` implementations run in round `round`: a rotation by
/// `round`, so each one runs first, second, ... in turn (A B C, B C A, C A B, ...).
pub fn rotation(round: usize, count: usize) -> Vec<usize> {
    (0..count).map(|offset| (round + offset) % count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let odd = Spread::of([5.0, 1.0, 3.0]).unwrap();
        assert_eq!((odd.median, odd.min, odd.max, odd.runs), (3.0, 1.0, 5.0, 3));
        let even = Spread::of([4.0, 1.0, 3.0, 10.0]).unwrap();
        assert_eq!(
            (even.median, even.min, even.max, even.runs),
            (3.5, 1.0, 10.0, 4)
        );
    }

    #[test]
    fn spread_skips_non_finite_values_and_reports_none_when_empty() {
        let spread = Spread::of([f64::NAN, 2.0, f64::INFINITY]).unwrap();
        assert_eq!((spread.median, spread.runs), (2.0, 1));
        assert_eq!(Spread::of([f64::NAN]), None);
        assert_eq!(Spread::of(Vec::new()), None);
    }

    #[test]
    fn ratios_pair_runs_of_the_same_round() {
        let ringtide = [Some(10.0), Some(30.0), None, Some(8.0)];
        let tokio = [Some(5.0), Some(10.0), Some(7.0), Some(0.0)];
        // Round 2 lacks ringtide and round 3's denominator is zero: both are left out.
        assert_eq!(ratios_by_round(&ringtide, &tokio), [2.0, 3.0]);
        // Not the ratio of the medians (20 / 7.5): the median of per-round ratios.
        assert_eq!(
            Spread::of(ratios_by_round(&ringtide, &tokio))
                .unwrap()
                .median,
            2.5
        );
    }

    #[test]
    fn rotation_puts_each_implementation_first_in_turn() {
        assert_eq!(rotation(0, 3), [0, 1, 2]);
        assert_eq!(rotation(1, 3), [1, 2, 0]);
        assert_eq!(rotation(2, 3), [2, 0, 1]);
        assert_eq!(rotation(3, 3), [0, 1, 2]);
        assert!(rotation(4, 0).is_empty());
    }
}
