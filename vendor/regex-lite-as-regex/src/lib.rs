//! The part of the `regex` API that oci-spec uses (`Regex::new`, `is_match`, `captures`,
//! `RegexBuilder`), served by regex-lite: the same syntax and semantics for ASCII input, no
//! Unicode classes (`\d` is `[0-9]`), a fraction of the size. oci-spec's only pattern in
//! rrun's build is `^(\d+(-\d+)?)(,\d+(-\d+)?)*$` (execCPUAffinity), where ASCII digits are
//! what the runtime-spec means anyway.
pub use regex_lite::*;
