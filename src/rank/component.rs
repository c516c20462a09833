//! The score components, a value per component ([`PerComponent`], indexed
//! by [`Component`], written as a name → value map), and the weights that
//! combine them. Adding a component means one enum variant and its name.

use std::fmt;
use std::ops::{Index, IndexMut};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A score component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Cosine between the user's S profile and the item.
    Content,
    /// Cosine between the mapped S profile (S→T ridge map) and the item.
    Mapped,
    /// Cosine between the S profile transformed by the learned transfer
    /// model and the item.
    Adapted,
    /// The next-item score of a self-attention model over the user's
    /// interactions in both domains, in time order.
    Sequence,
    /// Co-interaction links from the user's S items, via shared users.
    Graph,
    /// Knowledge-graph paths from the user's S items, via the entities
    /// they share with T items.
    Kg,
    /// Normalised log-popularity of the item in T.
    Popularity,
    /// Cosine between the user's own T profile and the item.
    History,
}

/// How many components there are.
pub const N_COMPONENTS: usize = 8;

/// Every component, in display order.
pub const COMPONENTS: [Component; N_COMPONENTS] = [
    Component::Content,
    Component::Mapped,
    Component::Adapted,
    Component::Sequence,
    Component::Graph,
    Component::Kg,
    Component::Popularity,
    Component::History,
];

impl Component {
    /// The lower-case name used on the command line and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Component::Content => "content",
            Component::Mapped => "mapped",
            Component::Adapted => "adapted",
            Component::Sequence => "sequence",
            Component::Graph => "graph",
            Component::Kg => "kg",
            Component::Popularity => "popularity",
            Component::History => "history",
        }
    }

    /// The component called `name`.
    pub fn from_name(name: &str) -> Option<Component> {
        COMPONENTS.into_iter().find(|c| c.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per component.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PerComponent<T>([T; N_COMPONENTS]);

impl<T> PerComponent<T> {
    /// The value of each component, from `f`.
    pub fn from_fn(mut f: impl FnMut(Component) -> T) -> PerComponent<T> {
        PerComponent(COMPONENTS.map(&mut f))
    }

    /// Each component with its value, in display order.
    pub fn iter(&self) -> impl Iterator<Item = (Component, &T)> {
        COMPONENTS.into_iter().zip(self.0.iter())
    }

    /// The values, in display order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

impl<T> Index<Component> for PerComponent<T> {
    type Output = T;

    fn index(&self, c: Component) -> &T {
        &self.0[c.index()]
    }
}

impl<T> IndexMut<Component> for PerComponent<T> {
    fn index_mut(&mut self, c: Component) -> &mut T {
        &mut self.0[c.index()]
    }
}

impl<T: Serialize> Serialize for PerComponent<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().map(|(c, v)| (c.name(), v)))
    }
}

/// One weight per component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights(PerComponent<f32>);

impl Default for Weights {
    /// The built-in weighting, chosen to beat popularity on both directions
    /// of the real Amazon data without tuning (see the README).
    fn default() -> Self {
        Weights(PerComponent::from_fn(|c| match c {
            Component::Content => 0.5,
            Component::Mapped => 0.5,
            Component::Adapted => 1.0,
            Component::Sequence => 1.0,
            Component::Graph => 1.0,
            Component::Kg => 0.5,
            Component::Popularity => 1.0,
            Component::History => 1.0,
        }))
    }
}

impl Weights {
    /// The weight of `c`.
    pub fn get(&self, c: Component) -> f32 {
        self.0[c]
    }

    /// Sets the weight of `c`.
    pub fn set(&mut self, c: Component, w: f32) {
        self.0[c] = w;
    }

    /// True when every weight is 0 (every item would score 0).
    pub fn is_zero(&self) -> bool {
        self.0.values().all(|&w| w == 0.0)
    }

    /// Only `c`, with weight 1.
    pub fn only(c: Component) -> Weights {
        let mut w = Weights(PerComponent::default());
        w.set(c, 1.0);
        w
    }

    /// Each component with its weight.
    pub fn iter(&self) -> impl Iterator<Item = (Component, f32)> + '_ {
        self.0.iter().map(|(c, &w)| (c, w))
    }
}

impl Serialize for Weights {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Weights {
    /// A name → weight map; components not named keep their default, and an
    /// unknown name is an error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Weights, D::Error> {
        let map = std::collections::BTreeMap::<String, f32>::deserialize(deserializer)?;
        let mut weights = Weights::default();
        for (name, value) in map {
            let c = Component::from_name(&name)
                .ok_or_else(|| serde::de::Error::custom(format!("'{name}' is not a component")))?;
            if !usable_weight(value) {
                return Err(serde::de::Error::custom(WeightsError::OutOfRange(format!(
                    "{name}={value}"
                ))));
            }
            weights.set(c, value);
        }
        Ok(weights)
    }
}

impl fmt::Display for Weights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.iter().map(|(c, w)| format!("{c}={w}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// The components that score a target item by its vector alone: when every
/// target item has the same vector they cannot tell items apart.
pub const VECTOR_SPACE: [Component; 4] = [
    Component::Content,
    Component::Mapped,
    Component::Adapted,
    Component::History,
];

/// The largest weight in size: a score is a weighted sum of components of
/// about unit size, and larger weights would overflow it.
pub const MAX_WEIGHT: f32 = 1e6;
/// The smallest weight in size other than 0: smaller ones vanish from the
/// sum (and a set of them would rank every item alike).
pub const MIN_WEIGHT: f32 = 1e-6;

/// Whether `w` is a weight a score can be summed with: 0, or a finite size
/// from [`MIN_WEIGHT`] to [`MAX_WEIGHT`].
pub fn usable_weight(w: f32) -> bool {
    w == 0.0 || (MIN_WEIGHT..=MAX_WEIGHT).contains(&w.abs())
}

/// Why all-zero weights are refused where a user sets them.
pub const ALL_ZERO: &str = "every weight is 0, so every item would score 0 and the order would \
     be arbitrary; give at least one component a weight";

/// Why text is not a set of weights.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// No component named.
    #[error(
        "no weights given; name at least one, e.g. content=1,graph=0.5 (leave the setting out \
         for the defaults)"
    )]
    Empty,
    /// A part without `=`.
    #[error("'{0}': expected name=value")]
    NotNameValue(String),
    /// A name that is no component.
    #[error("'{name}' is not a component; expected one of: {}", component_names())]
    UnknownComponent {
        /// The name given.
        name: String,
    },
    /// A value that is not a number.
    #[error("'{0}': the weight must be a number")]
    NotANumber(String),
    /// A number too large or too small in size to sum scores with.
    #[error(
        "'{0}': a weight must be 0 or from {MIN_WEIGHT:e} to {MAX_WEIGHT:e} in size (larger \
         ones overflow the sum of scores, smaller ones vanish in it)"
    )]
    OutOfRange(String),
    /// A component named twice.
    #[error("'{0}' is named twice; name each component once")]
    Twice(Component),
    /// Every weight 0.
    #[error("{ALL_ZERO}")]
    AllZero,
}

/// The components' names, comma-separated.
fn component_names() -> String {
    let all: Vec<&str> = COMPONENTS.iter().map(|c| c.name()).collect();
    all.join(", ")
}

impl FromStr for Weights {
    type Err = WeightsError;

    /// Parses `content=1,mapped=0.5,…`; components not named keep their
    /// default. Empty text, a component named twice and all-zero weights
    /// are errors.
    fn from_str(s: &str) -> Result<Weights, WeightsError> {
        let mut weights = Weights::default();
        let mut named = Vec::new();
        if s.split(',').all(|p| p.trim().is_empty()) {
            return Err(WeightsError::Empty);
        }
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| WeightsError::NotNameValue(part.to_string()))?;
            let component = Component::from_name(name.trim()).ok_or_else(|| {
                WeightsError::UnknownComponent {
                    name: name.to_string(),
                }
            })?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| !v.is_nan())
                .ok_or_else(|| WeightsError::NotANumber(part.to_string()))?;
            // Through f64, so that 1e39 is out of range rather than infinite.
            let value = value as f32;
            if !usable_weight(value) {
                return Err(WeightsError::OutOfRange(part.to_string()));
            }
            if named.contains(&component) {
                return Err(WeightsError::Twice(component));
            }
            named.push(component);
            weights.set(component, value);
        }
        if weights.is_zero() {
            return Err(WeightsError::AllZero);
        }
        Ok(weights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_through_text_and_json() {
        let w: Weights = "content=0.5, graph=2".parse().unwrap();
        assert_eq!(w.get(Component::Graph), 2.0);
        assert_eq!(w.get(Component::Content), 0.5);
        assert_eq!(
            w.get(Component::Mapped),
            Weights::default().get(Component::Mapped)
        );
        assert_eq!(w.to_string().parse::<Weights>().unwrap(), w);
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"adapted\":"), "{json}");
        assert_eq!(serde_json::from_str::<Weights>(&json).unwrap(), w);
        assert!(serde_json::from_str::<Weights>(r#"{"colour": 1}"#).is_err());
    }

    #[test]
    fn values_are_indexed_by_component() {
        let mut v = PerComponent::from_fn(|c| c.name().len());
        assert_eq!(v[Component::Popularity], "popularity".len());
        v[Component::Graph] = 0;
        assert_eq!(
            v.iter().find(|(c, _)| *c == Component::Graph),
            Some((Component::Graph, &0))
        );
    }
}
