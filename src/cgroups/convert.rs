//! Conversions from the v1-shaped values of runtime-spec to cgroup2's, as runc does them.

/// cpu.shares (2..262144) to cpu.weight (1..10000): a linear map of the two ranges.
/// 0 means "not set" and stays 0.
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// blkio.weight (10..1000) to io.weight (1..10000); 0 means "not set" and stays 0.
pub fn blkio_weight_to_io_weight(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    let weight = weight.clamp(10, 1000);
    1 + ((weight - 10) * 9999) / 990
}

/// The value of memory.swap.max from the spec's memory+swap total `swap` and `limit`.
/// `Ok(None)`: leave memory.swap.max alone; `Ok(Some(-1))`: "max".
pub fn memory_swap_to_v2(swap: i64, limit: i64) -> Result<Option<i64>, &'static str> {
    // Unlimited memory with no swap setting means unlimited swap too (v1 compatibility).
    if limit == -1 && swap == 0 {
        return Ok(Some(-1));
    }
    match swap {
        0 => return Ok(None),
        -1 => return Ok(Some(-1)),
        _ => {}
    }
    if limit == 0 || limit == -1 {
        return Err("a swap limit needs a memory limit");
    }
    if limit < 0 || swap < 0 {
        return Err("negative values other than -1 are not allowed");
    }
    if swap < limit {
        return Err("memory+swap limit must be >= the memory limit");
    }
    Ok(Some(swap - limit))
}

/// A limit for a v2 file: negative means "max".
pub fn v2_limit(value: i64) -> String {
    if value < 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(cpu_shares_to_weight(0), 0);
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(512), 20);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
        // Out-of-range values are clamped to the v1 range first.
        assert_eq!(cpu_shares_to_weight(1), 1);
        assert_eq!(cpu_shares_to_weight(1 << 30), 10_000);
    }

    #[test]
    fn blkio_weight_to_io_weight_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(memory_swap_to_v2(0, -1), Ok(Some(-1)));
        assert_eq!(memory_swap_to_v2(0, 100), Ok(None));
        assert_eq!(memory_swap_to_v2(-1, 100), Ok(Some(-1)));
        assert_eq!(
            memory_swap_to_v2(134_217_728, 67_108_864),
            Ok(Some(67_108_864))
        );
        assert_eq!(memory_swap_to_v2(100, 100), Ok(Some(0)));
        assert!(memory_swap_to_v2(50, 100).is_err());
        assert!(memory_swap_to_v2(50, 0).is_err());
        assert!(memory_swap_to_v2(50, -1).is_err());
    }

    #[test]
    fn v2_limits() {
        assert_eq!(v2_limit(-1), "max");
        assert_eq!(v2_limit(4096), "4096");
    }
}
