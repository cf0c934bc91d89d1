use std::fmt;
use std::str::FromStr;

/// A chat platform that one of the chatwire protocol crates speaks.
///
/// The string form ([`Platform::as_str`], `Display`, `FromStr` and serde) is stable and lower
/// case: `"chzzk"`, `"stackexchange"`, `"livekit"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Platform {
    /// Chzzk, Naver's live streaming service (`chzzk-chat`).
    Chzzk,
    /// Stack Exchange chat (`sechat`).
    #[cfg_attr(feature = "serde", serde(rename = "stackexchange"))]
    StackExchange,
    /// The `LiveKit` Chat Protocol over a `LiveKit` room (`livekit-chat`).
    #[cfg_attr(feature = "serde", serde(rename = "livekit"))]
    LiveKit,
}

impl Platform {
    /// Every platform, in declaration order.
    pub const ALL: &'static [Platform] = &[Self::Chzzk, Self::StackExchange, Self::LiveKit];

    /// The stable lower-case name of the platform.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chzzk => "chzzk",
            Self::StackExchange => "stackexchange",
            Self::LiveKit => "livekit",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Platform::from_str`]: the name is not one of [`Platform::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPlatform(String);

impl UnknownPlatform {
    /// The name that was not recognised.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnknownPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown platform {:?} (expected one of: chzzk, stackexchange, livekit)",
            self.0
        )
    }
}

impl std::error::Error for UnknownPlatform {}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(p.as_str().parse::<Platform>(), Ok(*p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!("LiveKit".parse::<Platform>(), Ok(Platform::LiveKit));
        let err = "irc".parse::<Platform>().unwrap_err();
        assert!(err.to_string().contains("\"irc\""), "{err}");
    }
}
