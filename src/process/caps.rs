//! Capabilities: the five sets of `process.capabilities`.
//!
//! Order matters and follows the kernel's rules: the bounding set is reduced while the process
//! still has CAP_SETPCAP (before the user switch); the user switch keeps the permitted set
//! (PR_SET_KEEPCAPS, see user.rs); then effective, permitted and inheritable are set in one
//! capset, and ambient capabilities are raised last (each must be permitted and inheritable).

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("capability {0} is not known to this runtime")]
    Unknown(String),
    #[error("process.capabilities: {cap} is effective but not permitted")]
    NotPermitted { cap: String },
    #[error("drop {cap} from the bounding set: {source}")]
    Drop { cap: String, source: nix::Error },
    #[error("{op} {set} capabilities: {source}")]
    Apply {
        op: &'static str,
        set: &'static str,
        source: caps::errors::CapsError,
    },
}

/// The capabilities this kernel knows: those up to /proc/sys/kernel/cap_last_cap (one read,
/// where probing each with prctl would take one syscall per capability).
pub fn supported() -> CapsHashSet {
    let last: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect()
}

/// Convert a config.json capability set; a name this kernel does not have is skipped (as runc
/// does, so a config written for a newer kernel still starts), an unparsable one is an error.
pub fn to_set(
    set: Option<&oci_spec::runtime::Capabilities>,
    known: &CapsHashSet,
) -> Result<CapsHashSet, CapsError> {
    let mut out = CapsHashSet::new();
    for c in set.into_iter().flatten() {
        let name = format!("CAP_{c}");
        let cap = Capability::from_str(&name).map_err(|_| CapsError::Unknown(name))?;
        if known.contains(&cap) {
            out.insert(cap);
        }
    }
    Ok(out)
}

/// The capability sets resolved from config.json.
#[derive(Debug, Clone)]
pub struct CapPlan {
    /// Every capability of this kernel.
    pub supported: CapsHashSet,
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

impl CapPlan {
    pub fn from_spec(c: &LinuxCapabilities) -> Result<CapPlan, CapsError> {
        let known = supported();
        let plan = CapPlan {
            bounding: to_set(c.bounding().as_ref(), &known)?,
            effective: to_set(c.effective().as_ref(), &known)?,
            permitted: to_set(c.permitted().as_ref(), &known)?,
            inheritable: to_set(c.inheritable().as_ref(), &known)?,
            ambient: to_set(c.ambient().as_ref(), &known)?,
            supported: known,
        };
        // The kernel refuses an effective capability that is not permitted (capset: EPERM);
        // say which, before anything of the container exists.
        if let Some(cap) = plan
            .effective
            .difference(&plan.permitted)
            .min_by_key(|c| c.index())
        {
            return Err(CapsError::NotPermitted {
                cap: cap.to_string(),
            });
        }
        Ok(plan)
    }

    /// Drop from the bounding set what the config does not list (needs CAP_SETPCAP).
    pub fn apply_bounding(&self) -> Result<(), CapsError> {
        for cap in self.supported.difference(&self.bounding) {
            crate::sys::caps::drop_from_bounding_set(cap.index()).map_err(|source| {
                CapsError::Drop {
                    cap: cap.to_string(),
                    source,
                }
            })?;
        }
        Ok(())
    }

    /// Set effective, permitted, inheritable and ambient (after the user switch).
    pub fn apply_rest(&self) -> Result<(), CapsError> {
        let err = |op, set| move |source| CapsError::Apply { op, set, source };
        // Each capset keeps the other sets as they are, so the order matters: inheritable
        // while the full permitted set still allows it, then effective (lowered within the
        // old permitted set), then permitted (which must still hold the new effective set).
        caps::set(None, CapSet::Inheritable, &self.inheritable)
            .map_err(err("set", "inheritable"))?;
        caps::set(None, CapSet::Effective, &self.effective).map_err(err("set", "effective"))?;
        caps::set(None, CapSet::Permitted, &self.permitted).map_err(err("set", "permitted"))?;
        caps::clear(None, CapSet::Ambient).map_err(err("clear", "ambient"))?;
        for cap in &self.ambient {
            // The kernel refuses an ambient capability that is not both permitted and
            // inheritable; runc skips those, and so does rrun.
            if self.permitted.contains(cap) && self.inheritable.contains(cap) {
                caps::raise(None, CapSet::Ambient, *cap).map_err(err("raise", "ambient"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_names() {
        let c: LinuxCapabilities = serde_json::from_str(
            r#"{"bounding":["CAP_CHOWN","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}"#,
        )
        .unwrap();
        let p = CapPlan::from_spec(&c).unwrap();
        assert!(p.bounding.contains(&Capability::CAP_CHOWN));
        assert!(p.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
        assert!(p.effective.contains(&Capability::CAP_KILL));
        assert!(p.ambient.is_empty());
    }

    /// Found by the config fuzzer: capset's bare EPERM became a message naming the capability.
    #[test]
    fn effective_must_be_permitted() {
        let c: LinuxCapabilities =
            serde_json::from_str(r#"{"effective":["CAP_KILL"],"permitted":["CAP_CHOWN"]}"#)
                .unwrap();
        let e = CapPlan::from_spec(&c).unwrap_err().to_string();
        assert!(e.contains("CAP_KILL is effective but not permitted"), "{e}");
    }
}
