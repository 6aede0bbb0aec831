//! Enumerations exchanged and stored as lower-case text.
//!
//! Every state and kind of the measures is an enum stored as TEXT under a
//! CHECK constraint; this macro gives each one the same text form in the
//! database, in JSON and in error messages.

/// An enum whose values have a fixed lower-case text form.
pub trait TextEnum: Sized + Copy + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The text form.
    fn as_str(self) -> &'static str;
    /// Parses the text form.
    ///
    /// # Errors
    /// [`UnknownValue`] when the text is not one of the values.
    fn parse(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == text)
            .ok_or_else(|| UnknownValue {
                value: text.to_owned(),
                expected: Self::ALL.iter().map(|v| v.as_str()).collect(),
            })
    }
}

/// A text that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{value}`, expected one of {}", expected.join(", "))]
pub struct UnknownValue {
    pub value: String,
    pub expected: Vec<&'static str>,
}

/// Declares a [`TextEnum`] with serde support under the same text form.
#[macro_export]
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }
        impl $crate::text_enum::TextEnum for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::text_enum::TextEnum::as_str(*self))
            }
        }
        impl std::str::FromStr for $name {
            type Err = $crate::text_enum::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <Self as $crate::text_enum::TextEnum>::parse(s)
            }
        }
    };
}
