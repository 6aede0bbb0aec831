//! Accounts: usernames and passwords people can live with, and checks an
//! attacker cannot shortcut.

use crate::catalogue::is_email;
use crate::validation::{Checks, Invalid};

/// Shortest password accepted (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, to bound the cost of hashing.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The fields of an account a user can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

impl UserProfile {
    /// # Errors
    /// [`Invalid`] naming each field that breaks a rule.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut c = Checks::new();
        self.check_into(&mut c);
        c.finish()
    }

    fn check_into(&self, c: &mut Checks) {
        c.required_text("display_name", &self.display_name, 50);
        if let Some(email) = &self.email {
            c.require(is_email(email), "email", "email", || "must be an e-mail address".into());
        }
        if let Some(phone) = &self.phone {
            c.require(
                (5..=20).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+'),
                "phone",
                "phone",
                || "must be 5 to 20 digits, '-' or '+'".into(),
            );
        }
    }
}

/// Checks a new account: username, password and profile.
///
/// # Errors
/// [`Invalid`] naming each field that breaks a rule.
pub fn check_new_account(username: &str, password: &str, profile: &UserProfile) -> Result<(), Invalid> {
    let mut c = Checks::new();
    check_username(&mut c, username);
    check_password(&mut c, "password", password, username);
    profile.check_into(&mut c);
    c.finish()
}

/// Checks a password on its own (for a change of password).
///
/// # Errors
/// [`Invalid`] naming the field.
pub fn check_password_only(field: &str, password: &str, username: &str) -> Result<(), Invalid> {
    let mut c = Checks::new();
    check_password(&mut c, field, password, username);
    c.finish()
}

fn check_username(c: &mut Checks, username: &str) {
    c.require(
        (3..=50).contains(&username.len())
            && username
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && username.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric()),
        "username",
        "username",
        || {
            "must be 3 to 50 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
                .into()
        },
    );
}

fn check_password(c: &mut Checks, field: &str, password: &str, username: &str) {
    let n = password.chars().count();
    c.require(n >= MIN_PASSWORD_CHARS, field, "password_length", || {
        format!("must have at least {MIN_PASSWORD_CHARS} characters")
    });
    c.require(n <= MAX_PASSWORD_CHARS, field, "password_length", || {
        format!("must have at most {MAX_PASSWORD_CHARS} characters")
    });
    c.require(
        !password.to_lowercase().contains(&username.to_lowercase()) || username.is_empty(),
        field,
        "password_contains_username",
        || "must not contain the username".into(),
    );
}

/// Why a change would leave the platform without an office.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this is the last active platform administrator; appoint another one first")]
pub struct LastPlatformAdmin;

/// The platform always keeps one active platform administrator: the last
/// one can be neither deactivated nor stripped of the role.
///
/// # Errors
/// [`LastPlatformAdmin`].
pub fn check_platform_office_kept(
    was_admin: bool,
    stays_admin: bool,
    active_admins: i64,
) -> Result<(), LastPlatformAdmin> {
    if was_admin && !stays_admin && active_admins <= 1 {
        Err(LastPlatformAdmin)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> UserProfile {
        UserProfile {
            display_name: "李明".into(),
            email: Some("liming@example.org".into()),
            phone: None,
        }
    }

    #[test]
    fn a_good_account_passes() {
        assert_eq!(check_new_account("liming", "correct horse battery", &profile()), Ok(()));
    }

    #[test]
    fn short_passwords_and_odd_usernames_are_refused_by_field() {
        let Err(Invalid(v)) = check_new_account("Li Ming", "short", &profile()) else {
            panic!("expected refusal");
        };
        let fields: Vec<_> = v.iter().map(|v| (v.field.as_str(), v.rule)).collect();
        assert_eq!(fields, vec![("username", "username"), ("password", "password_length")]);
    }

    #[test]
    fn the_last_platform_administrator_stays() {
        assert_eq!(check_platform_office_kept(true, false, 1), Err(LastPlatformAdmin));
        assert_eq!(check_platform_office_kept(true, false, 2), Ok(()));
        assert_eq!(check_platform_office_kept(true, true, 1), Ok(()));
        assert_eq!(check_platform_office_kept(false, false, 0), Ok(()));
    }

    #[test]
    fn a_password_containing_the_username_is_refused() {
        assert!(check_new_account("liming", "liming-2026-pass", &profile()).is_err());
    }
}
