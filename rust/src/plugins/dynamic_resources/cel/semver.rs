//! Semantic versions as kube's CEL library reads them (`semver("1.2.3")`, version attributes):
//! `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`, no leading zeros, build metadata ignored when
//! comparing, a pre-release sorting before its release.

use crate::error::{CoreError, CoreResult};
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
enum PreId {
    Num(u64),
    Alnum(String),
}

impl PartialOrd for PreId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PreId {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Num(a), Self::Num(b)) => a.cmp(b),
            (Self::Num(_), Self::Alnum(_)) => Ordering::Less,
            (Self::Alnum(_), Self::Num(_)) => Ordering::Greater,
            (Self::Alnum(a), Self::Alnum(b)) => a.cmp(b),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pre: Vec<PreId>,
}

fn number(part: &str) -> CoreResult<u64> {
    if part.is_empty() {
        return Err(CoreError::Invalid("empty version number".into()));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(CoreError::Invalid(format!("leading zero in {part:?}")));
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::Invalid(format!("{part:?} is not a number")));
    }
    part.parse::<u64>()
        .map_err(|_| CoreError::Invalid(format!("{part:?} is out of range")))
}

fn identifiers_ok(part: &str) -> bool {
    !part.is_empty()
        && part
            .split('.')
            .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

impl Semver {
    pub fn parse(text: &str) -> CoreResult<Self> {
        let (rest, build) = match text.split_once('+') {
            Some((r, b)) => (r, Some(b)),
            None => (text, None),
        };
        if let Some(b) = build
            && !identifiers_ok(b)
        {
            return Err(CoreError::Invalid(format!(
                "invalid build metadata in {text:?}"
            )));
        }
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (rest, None),
        };
        let mut parts = core.split('.');
        let (Some(ma), Some(mi), Some(pa), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CoreError::Invalid(format!(
                "{text:?} is not MAJOR.MINOR.PATCH"
            )));
        };
        let mut out = Self {
            major: number(ma)?,
            minor: number(mi)?,
            patch: number(pa)?,
            pre: Vec::new(),
        };
        if let Some(p) = pre {
            if !identifiers_ok(p) {
                return Err(CoreError::Invalid(format!(
                    "invalid pre-release in {text:?}"
                )));
            }
            for id in p.split('.') {
                if id.bytes().all(|b| b.is_ascii_digit()) {
                    out.pre.push(PreId::Num(number(id)?));
                } else {
                    out.pre.push(PreId::Alnum(id.to_owned()));
                }
            }
        }
        Ok(out)
    }
}

impl PartialOrd for Semver {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Semver {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Semver {
        Semver::parse(s).unwrap()
    }

    #[test]
    fn ordering_follows_semver() {
        assert!(v("1.2.3") < v("1.10.0"));
        assert!(v("2.0.0") > v("1.99.99"));
        assert!(v("1.0.0-alpha") < v("1.0.0"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"));
        assert!(v("1.0.0-beta.2") < v("1.0.0-beta.11"));
        assert_eq!(v("1.0.0+build.1").cmp(&v("1.0.0+other")), Ordering::Equal);
    }

    #[test]
    fn malformed_versions_are_refused() {
        for bad in [
            "1.2",
            "1.2.3.4",
            "01.2.3",
            "1.2.x",
            "v1.2.3",
            "1.2.3-",
            "1.2.3-a..b",
            "",
        ] {
            assert!(Semver::parse(bad).is_err(), "{bad}");
        }
    }
}
