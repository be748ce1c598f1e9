//! A watch event's type (mirrored by `podium._core.EventType`).

/// The apiserver's `watch.EventType`, in the order `podium._core.EventType` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EventType {
    #[default]
    Added = 0,
    Modified = 1,
    Deleted = 2,
    Bookmark = 3,
    Error = 4,
}

impl EventType {
    pub const ALL: [EventType; 5] = [
        EventType::Added,
        EventType::Modified,
        EventType::Deleted,
        EventType::Bookmark,
        EventType::Error,
    ];

    /// The wire's spelling (`"ADDED"`, ...): also the Python member's name and value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Bookmark => "BOOKMARK",
            EventType::Error => "ERROR",
        }
    }

    pub fn parse(wire: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for e in EventType::ALL {
            assert_eq!(EventType::parse(e.as_str()), Some(e));
        }
        assert_eq!(EventType::parse("added"), None);
    }
}
