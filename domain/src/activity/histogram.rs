//! Callback latencies in buckets on a log scale: twenty a decade, so each bucket is 12 % wider
//! than the one before and a percentile read off them is within 6 % of the exact one — finer than
//! the overview's chart can draw. Bucket `b` holds `[10^(b/20), 10^((b+1)/20))` microseconds.

/// Buckets a decade of latency.
const PER_DECADE: f64 = 20.0;

/// The last bucket, from 100 s up: it also holds every longer latency.
pub const LAST: i64 = 160;

/// The bucket `latency_us` falls in.
pub fn bucket_of(latency_us: u64) -> i64 {
    if latency_us <= 1 {
        return 0;
    }
    // A u64 of microseconds is exact enough as f64 for its logarithm.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let bucket = ((latency_us as f64).log10() * PER_DECADE).floor() as i64;
    bucket.clamp(0, LAST)
}

/// The latency a bucket stands for: its geometric middle, in microseconds.
pub fn middle_us(bucket: i64) -> i64 {
    let bucket = bucket.clamp(0, LAST);
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    let middle = 10f64.powf((bucket as f64 + 0.5) / PER_DECADE).round() as i64;
    middle.max(1)
}

/// The nearest-rank percentile `p` (1..=100) of the latencies counted in `buckets` (bucket,
/// count), ascending by bucket; `None` when they count nothing.
pub fn percentile(buckets: &[(i64, u64)], p: u64) -> Option<i64> {
    let total: u64 = buckets.iter().map(|&(_, count)| count).sum();
    if total == 0 {
        return None;
    }
    // The ceil(p·n/100)-th smallest latency is in the first bucket whose running count reaches it.
    let rank = (p * total).div_ceil(100).max(1);
    let mut seen = 0;
    buckets.iter().find_map(|&(bucket, count)| {
        seen += count;
        (seen >= rank).then(|| middle_us(bucket))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_twentieth_of_a_decade() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(10), 20);
        assert_eq!(bucket_of(999), 59);
        assert_eq!(bucket_of(1_000), 60);
        assert_eq!(bucket_of(1_122), 60, "just under 10^(61/20) = 1122.02");
        assert_eq!(bucket_of(1_123), 61);
        assert_eq!(bucket_of(100_000_000), LAST);
        assert_eq!(bucket_of(u64::MAX), LAST);
    }

    #[test]
    fn a_bucket_stands_for_a_latency_within_six_per_cent() {
        for latency_us in [2_u64, 7, 90, 1_000, 1_500, 37_000, 2_500_000, 99_000_000] {
            let middle = middle_us(bucket_of(latency_us));
            #[allow(clippy::cast_precision_loss)]
            let error = (middle as f64 - latency_us as f64).abs() / latency_us as f64;
            assert!(error < 0.07 || latency_us < 10, "{latency_us} µs → {middle} µs");
        }
        assert_eq!(middle_us(60), 1_059);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        // 100 latencies of 1 ms and 1 of 1 s: p50 and p99 are 1 ms, the maximum is 1 s.
        let buckets = [(bucket_of(1_000), 100), (bucket_of(1_000_000), 1)];
        assert_eq!(percentile(&buckets, 50), Some(1_059));
        assert_eq!(percentile(&buckets, 99), Some(1_059));
        assert_eq!(percentile(&buckets, 100), Some(middle_us(120)));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[(3, 0)], 50), None);
    }
}
