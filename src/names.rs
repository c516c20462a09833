//! How the library names what a user chooses, without knowing any front
//! end: [`Named`] gives every value of an enum a user picks by word and its
//! one name, so each front end lists and parses them the same way;
//! [`Setting`] is a setting a user gives, which the library's messages name
//! in plain words and each front end points at its own way.

/// An enum whose values a user names by a word.
pub trait Named: Copy + Sized + 'static {
    /// Every value, in the order they are listed.
    const ALL: &'static [Self];

    /// The value's name (lower case, as typed).
    fn name(self) -> &'static str;

    /// The value called `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Every name, in order, for messages ("one of: a, b").
    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.name()).collect()
    }
}

/// A setting a user gives — a flag on the command line, a control in the
/// window. The library's messages name it in plain words (its `Display`),
/// never as one front end spells it; errors about one say which
/// ([`AboutSetting`]), and each front end points at it its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setting {
    /// The model folder or hub id.
    Model,
    /// The pooling override.
    Pooling,
    /// The token limit override.
    MaxLen,
    /// The item and user-text prompt.
    Prompt,
    /// The search-query prompt.
    QueryPrompt,
    /// The network's arithmetic.
    Precision,
    /// Where the network runs.
    Device,
    /// The source and target domains.
    Direction,
    /// The component weights.
    Weights,
    /// The mapping's ridge strength.
    Ridge,
    /// The share of users held out for testing.
    TestShare,
    /// The share held out for validation (tuning).
    ValidationShare,
    /// The share of target items that become new (new-items protocol).
    NewItemsShare,
    /// The transfer model's time budget.
    AdaptSeconds,
    /// The evaluation protocol.
    Protocol,
    /// The encoding shard.
    Shard,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setting::Model => "the model",
            Setting::Pooling => "the pooling",
            Setting::MaxLen => "the token limit",
            Setting::Prompt => "the item prompt",
            Setting::QueryPrompt => "the query prompt",
            Setting::Precision => "the precision",
            Setting::Device => "the device",
            Setting::Direction => "the source and target domains",
            Setting::Weights => "the weights",
            Setting::Ridge => "the ridge strength",
            Setting::TestShare => "the test share",
            Setting::ValidationShare => "the validation share",
            Setting::NewItemsShare => "the new-items share",
            Setting::AdaptSeconds => "the transfer model's time budget",
            Setting::Protocol => "the protocol",
            Setting::Shard => "the shard",
        })
    }
}

/// An error that may be about a setting the user gave.
pub trait AboutSetting {
    /// The setting to change, when the error is about one.
    fn setting(&self) -> Option<Setting>;
}
