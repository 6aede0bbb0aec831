//! Typed identifiers, so that an instrument id is never passed where a lab id is meant.

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

id_type!(
    /// A member unit or external organisation.
    InstitutionId,
    /// A laboratory of an institution.
    LabId,
    /// An instrument (台套) of a lab.
    InstrumentId,
    /// A person with an account.
    UserId,
);
