//! Violations of input rules, each naming the field and the rule it breaks.

/// One field that breaks one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field, as named in the API (`purchase_date`, `credit_code`).
    pub field: String,
    /// A stable name of the rule (`gb32100_check_digit`, `date_order`).
    pub rule: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule,
            message: message.into(),
        }
    }
}

/// Input that breaks one or more rules; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<Violation>);

impl Invalid {
    pub fn one(field: impl Into<String>, rule: &'static str, message: impl Into<String>) -> Self {
        Self(vec![Violation::new(field, rule, message)])
    }
}

/// Collects violations and turns them into a result.
#[derive(Debug, Default)]
pub struct Checks(Vec<Violation>);

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records a violation unless `ok` holds.
    pub fn require(&mut self, ok: bool, field: &str, rule: &'static str, message: impl FnOnce() -> String) {
        if !ok {
            self.0.push(Violation::new(field, rule, message()));
        }
    }
    /// Checks that a text has between `min` and `max` characters (not bytes).
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let n = value.chars().count();
        self.require(n >= min && n <= max, field, "length", || {
            if min > 0 && n < min {
                format!("must have at least {min} characters")
            } else {
                format!("must have at most {max} characters")
            }
        });
    }
    /// Checks that a text has content other than white space and at most `max` characters.
    pub fn required_text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.0.push(Violation::new(field, "required", "must not be blank"));
        } else {
            self.length(field, value, 1, max);
        }
    }
    /// Records the error of a parse under `field`.
    pub fn parsed<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        rule: &'static str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(Violation::new(field, rule, e.to_string()));
                None
            }
        }
    }
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }
    /// # Errors
    /// [`Invalid`] with every violation recorded.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}
