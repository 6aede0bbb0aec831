//! Accounts and their roles.

use crate::schema::{institutions, user_roles as r, users as t};
use crate::{parse_enum, DbConn, Page, RepoError, Stored};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::access::{Actor, Role, Scope};
use labshare_domain::catalogue::Membership;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::users::UserProfile;
use labshare_domain::{InstitutionId, UserId};

/// An account as the API shows it (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub institution_id: InstitutionId,
    pub username: String,
    pub profile: UserProfile,
    pub active: bool,
    pub roles: Vec<Role>,
    /// The account of a service account: acts for a system, never signs in with a password.
    pub service_account: bool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    institution_id: i64,
    username: String,
    display_name: String,
    email: Option<String>,
    phone: Option<String>,
    active: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    kind: String,
}

impl Row {
    fn into_user(self, roles: Vec<Role>) -> Stored<User> {
        Stored {
            value: User {
                id: UserId(self.id),
                institution_id: InstitutionId(self.institution_id),
                username: self.username,
                profile: UserProfile {
                    display_name: self.display_name,
                    email: self.email,
                    phone: self.phone,
                },
                active: self.active,
                roles,
                service_account: self.kind == "service",
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// # Errors
/// [`RepoError::Conflict`] on a taken username or unknown institution.
pub fn insert(
    conn: &mut DbConn,
    institution: InstitutionId,
    username: &str,
    password_hash: &str,
    profile: &UserProfile,
    roles: &[Role],
    now: NaiveDateTime,
) -> Result<Stored<User>, RepoError> {
    let id: i64 = diesel::insert_into(t::table)
        .values((
            t::institution_id.eq(institution.0),
            t::username.eq(username),
            t::display_name.eq(&profile.display_name),
            t::email.eq(profile.email.as_deref()),
            t::phone.eq(profile.phone.as_deref()),
            t::password_hash.eq(password_hash),
            t::active.eq(true),
            t::created_at.eq(now),
            t::updated_at.eq(now),
        ))
        .returning(t::id)
        .get_result(conn)?;
    set_roles(conn, UserId(id), roles)?;
    get(conn, UserId(id))
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such user.
pub fn get(conn: &mut DbConn, id: UserId) -> Result<Stored<User>, RepoError> {
    let row: Row = t::table.find(id.0).select(Row::as_select()).get_result(conn)?;
    let roles = roles_of(conn, &[id.0])?.into_iter().map(|(_, r)| r).collect();
    Ok(row.into_user(roles))
}

/// Updates the profile, activity and, when given, the password hash.
///
/// # Errors
/// [`RepoError::NotFound`] when there is no such user.
pub fn update(
    conn: &mut DbConn,
    id: UserId,
    profile: &UserProfile,
    active: bool,
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), RepoError> {
    let n = diesel::update(t::table.find(id.0))
        .set((
            t::display_name.eq(&profile.display_name),
            t::email.eq(profile.email.as_deref()),
            t::phone.eq(profile.phone.as_deref()),
            t::active.eq(active),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    if let Some(hash) = password_hash {
        diesel::update(t::table.find(id.0))
            .set(t::password_hash.eq(hash))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces the roles of a user.
///
/// # Errors
/// Database errors.
pub fn set_roles(conn: &mut DbConn, id: UserId, roles: &[Role]) -> Result<(), RepoError> {
    diesel::delete(r::table.filter(r::user_id.eq(id.0))).execute(conn)?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in roles {
        diesel::insert_into(r::table)
            .values((r::user_id.eq(id.0), r::role.eq(role.as_str())))
            .execute(conn)?;
    }
    Ok(())
}

fn roles_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, Role)>, RepoError> {
    let q = r::table.order((r::user_id, r::role)).select((r::user_id, r::role));
    // One account (every request's actor): a statement diesel keeps
    // prepared; a list of them is compiled each time.
    let rows: Vec<(i64, String)> = match ids {
        [one] => q.filter(r::user_id.eq(one)).load(conn)?,
        _ => q.filter(r::user_id.eq_any(ids)).load(conn)?,
    };
    rows.into_iter()
        .map(|(u, role)| Ok((u, parse_enum("role", &role)?)))
        .collect()
}

/// How many active accounts hold a role.
///
/// # Errors
/// Database errors.
pub fn count_active_with_role(conn: &mut DbConn, role: Role) -> Result<i64, RepoError> {
    Ok(t::table
        .filter(t::active.eq(true))
        .filter(t::id.eq_any(r::table.filter(r::role.eq(role.as_str())).select(r::user_id)))
        .count()
        .get_result(conn)?)
}

/// What sign-in needs: the id, hash and whether the account may sign in.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: UserId,
    pub password_hash: String,
    pub active: bool,
}

/// # Errors
/// Database errors; `None` for an unknown username.
pub fn credentials(conn: &mut DbConn, username: &str) -> Result<Option<Credentials>, RepoError> {
    // The accounts of service accounts authenticate with client credentials only.
    let row: Option<(i64, String, bool)> = t::table
        .filter(t::username.eq(username))
        .filter(t::kind.eq("person"))
        .select((t::id, t::password_hash, t::active))
        .get_result(conn)
        .optional()?;
    Ok(row.map(|(id, password_hash, active)| Credentials {
        id: UserId(id),
        password_hash,
        active,
    }))
}

/// The actor behind an active account, for permission checks.
///
/// # Errors
/// [`RepoError::NotFound`] when the account does not exist or is deactivated.
pub fn actor(conn: &mut DbConn, id: UserId) -> Result<Actor, RepoError> {
    let (institution_id, membership): (i64, String) = t::table
        .inner_join(institutions::table)
        .filter(t::id.eq(id.0))
        .filter(t::active.eq(true))
        .select((t::institution_id, institutions::membership))
        .get_result(conn)?;
    let roles = roles_of(conn, &[id.0])?.into_iter().map(|(_, r)| r).collect();
    Ok(Actor {
        user_id: id,
        institution_id: InstitutionId(institution_id),
        member: parse_enum::<Membership>("membership", &membership)? == Membership::Member,
        roles,
    })
}

/// Filters of the user list.
#[derive(Debug, Clone)]
pub struct Filter {
    pub scope: Scope,
    pub institution_id: Option<InstitutionId>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// `Some(false)`: people only; `Some(true)`: the accounts of service accounts only.
    pub service_account: Option<bool>,
    pub q: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Stored<User>>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Scope::Institution(i) = f.scope {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(role) = f.role {
        q = q.filter(t::id.eq_any(r::table.filter(r::role.eq(role.as_str())).select(r::user_id)));
    }
    if let Some(a) = f.active {
        q = q.filter(t::active.eq(a));
    }
    if let Some(service) = f.service_account {
        q = q.filter(t::kind.eq(if service { "service" } else { "person" }));
    }
    if let Some(text) = &f.q {
        let pattern = crate::text::contains_pattern(text);
        q = q.filter(
            crate::text::lower(t::display_name)
                .like(pattern.clone())
                .escape('\\')
                .or(t::username.like(pattern).escape('\\')),
        );
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let roles = roles_of(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|row| {
            let mine = roles.iter().filter(|(u, _)| *u == row.id).map(|(_, r)| *r).collect();
            row.into_user(mine)
        })
        .collect();
    Ok(Page::from_overfetch(items, f.limit, |s: &Stored<User>| s.value.id.0))
}

/// The ids of an institution's accounts.
///
/// # Errors
/// Database errors.
pub fn ids_of_institution(conn: &mut DbConn, institution: InstitutionId) -> Result<Vec<i64>, RepoError> {
    Ok(t::table
        .filter(t::institution_id.eq(institution.0))
        .order(t::id)
        .select(t::id)
        .load(conn)?)
}

/// The tags of a user (`high_level_talent`), sorted.
///
/// # Errors
/// Database errors.
pub fn tags_of(conn: &mut DbConn, user: UserId) -> Result<Vec<String>, RepoError> {
    use crate::schema::user_tags as ut;
    Ok(ut::table
        .filter(ut::user_id.eq(user.0))
        .order(ut::tag)
        .select(ut::tag)
        .load(conn)?)
}

/// The tags of several users at once (a page of a list), sorted per user;
/// users without tags are absent.
///
/// # Errors
/// Database errors.
pub fn tags_by_user(
    conn: &mut DbConn,
    users: &[UserId],
) -> Result<std::collections::HashMap<UserId, Vec<String>>, RepoError> {
    use crate::schema::user_tags as ut;
    let ids: Vec<i64> = users.iter().map(|u| u.0).collect();
    let rows: Vec<(i64, String)> = ut::table
        .filter(ut::user_id.eq_any(ids))
        .order((ut::user_id, ut::tag))
        .select((ut::user_id, ut::tag))
        .load(conn)?;
    let mut out = std::collections::HashMap::<UserId, Vec<String>>::new();
    for (user, tag) in rows {
        out.entry(UserId(user)).or_default().push(tag);
    }
    Ok(out)
}

/// Replaces the tags of a user.
///
/// # Errors
/// Database errors.
pub fn set_tags(conn: &mut DbConn, user: UserId, tags: &[String]) -> Result<(), RepoError> {
    use crate::schema::user_tags as ut;
    diesel::delete(ut::table.filter(ut::user_id.eq(user.0))).execute(conn)?;
    for tag in tags {
        diesel::insert_into(ut::table)
            .values((ut::user_id.eq(user.0), ut::tag.eq(tag)))
            .execute(conn)?;
    }
    Ok(())
}
