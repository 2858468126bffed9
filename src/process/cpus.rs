//! Lists of CPUs and NUMA nodes as config.json writes them (`0-3,7`): parsed before the fork,
//! so a bad list fails the command before anything exists.

/// A list that is not `N`, `N-M`, separated by commas, with every number below the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {list:?}: {problem}")]
pub struct ListError {
    pub field: &'static str,
    pub list: String,
    pub problem: String,
}

/// The numbers of a list such as `0-3,7`, each below `limit`, sorted and without duplicates.
pub fn parse_list(field: &'static str, list: &str, limit: usize) -> Result<Vec<usize>, ListError> {
    let bad = |problem: String| ListError {
        field,
        list: list.to_string(),
        problem,
    };
    let number = |s: &str| -> Result<usize, ListError> {
        let n: usize = s
            .trim()
            .parse()
            .map_err(|_| bad(format!("{s:?} is not a number")))?;
        if n >= limit {
            return Err(bad(format!("{n} is not below {limit}")));
        }
        Ok(n)
    };
    let mut out = Vec::new();
    for part in list.split(',') {
        if part.trim().is_empty() {
            return Err(bad("an empty element".into()));
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(bad(format!("the range {a}-{b} runs backwards")));
                }
                out.extend(a..=b);
            }
            None => out.push(number(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("x", "0-3,7", 64).unwrap(), [0, 1, 2, 3, 7]);
        assert_eq!(parse_list("x", "5,1,1", 64).unwrap(), [1, 5]);
        for bad in ["", "1,", "a", "3-1", "1-", "64", "-1", "1--2"] {
            assert!(parse_list("x", bad, 64).is_err(), "{bad:?}");
        }
        let e = parse_list("process.execCPUAffinity.final", "9000", 1024).unwrap_err();
        assert_eq!(
            e.to_string(),
            "process.execCPUAffinity.final \"9000\": 9000 is not below 1024"
        );
    }
}
