//! Service accounts and the accounts they act through. The secret is kept
//! only as a hash; each rotation raises a generation that access tokens carry.

use crate::schema::{service_accounts as t, users};
use crate::{DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::access::{Role, Scope};
use labshare_domain::service_account::{parse_scope_text, scope_text, ApiScope};
use labshare_domain::users::UserProfile;
use labshare_domain::{InstitutionId, UserId};

/// What the password hash of a service account's user holds: no argon2
/// hash, so that no password ever verifies against it.
pub const UNUSABLE_PASSWORD_HASH: &str = "!service-account";

/// A service account as the API shows it (never with its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    pub id: i64,
    pub institution_id: InstitutionId,
    pub user_id: UserId,
    pub name: String,
    pub description: String,
    pub scopes: Vec<ApiScope>,
    pub roles: Vec<Role>,
    pub client_id: String,
    pub secret_generation: i64,
    pub secret_set_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    institution_id: i64,
    user_id: i64,
    name: String,
    description: String,
    scopes: String,
    client_id: String,
    secret_generation: i64,
    secret_set_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    created_by: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_used_at: Option<NaiveDateTime>,
}

fn scopes_of(text: &str) -> Result<Vec<ApiScope>, RepoError> {
    parse_scope_text(text).map_err(|e| RepoError::Corrupt(format!("scopes: {e}")))
}

impl Row {
    fn into_account(self, conn: &mut DbConn) -> Result<ServiceAccount, RepoError> {
        let roles = crate::users::get(conn, UserId(self.user_id))?.value.roles;
        Ok(ServiceAccount {
            id: self.id,
            institution_id: InstitutionId(self.institution_id),
            user_id: UserId(self.user_id),
            name: self.name,
            description: self.description,
            scopes: scopes_of(&self.scopes)?,
            roles,
            client_id: self.client_id,
            secret_generation: self.secret_generation,
            secret_set_at: self.secret_set_at,
            revoked_at: self.revoked_at,
            created_by: UserId(self.created_by),
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
        })
    }
}

/// A service account to create.
#[derive(Debug, Clone)]
pub struct NewServiceAccount<'a> {
    pub institution: InstitutionId,
    pub name: &'a str,
    pub description: &'a str,
    pub roles: &'a [Role],
    pub scopes: &'a [ApiScope],
    pub client_id: &'a str,
    pub secret_hash: &'a str,
    pub created_by: UserId,
}

/// Creates a service account and the account it acts through (named by
/// its client id, with a password hash that never verifies).
///
/// # Errors
/// [`RepoError::Conflict`] on a client id already taken or an unknown institution.
pub fn insert(conn: &mut DbConn, new: &NewServiceAccount<'_>, now: NaiveDateTime) -> Result<ServiceAccount, RepoError> {
    let profile = UserProfile {
        display_name: new.name.to_owned(),
        email: None,
        phone: None,
    };
    let user = crate::users::insert(
        conn,
        new.institution,
        new.client_id,
        UNUSABLE_PASSWORD_HASH,
        &profile,
        new.roles,
        now,
    )?;
    diesel::update(users::table.find(user.value.id.0))
        .set(users::kind.eq("service"))
        .execute(conn)?;
    let id: i64 = diesel::insert_into(t::table)
        .values((
            t::institution_id.eq(new.institution.0),
            t::user_id.eq(user.value.id.0),
            t::name.eq(new.name),
            t::description.eq(new.description),
            t::scopes.eq(scope_text(new.scopes)),
            t::client_id.eq(new.client_id),
            t::secret_hash.eq(new.secret_hash),
            t::secret_generation.eq(1_i64),
            t::secret_set_at.eq(now),
            t::created_by.eq(new.created_by.0),
            t::created_at.eq(now),
            t::updated_at.eq(now),
        ))
        .returning(t::id)
        .get_result(conn)?;
    get(conn, id)
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such service account.
pub fn get(conn: &mut DbConn, id: i64) -> Result<ServiceAccount, RepoError> {
    let row: Row = t::table.find(id).select(Row::as_select()).get_result(conn)?;
    row.into_account(conn)
}

/// Filters of the service account list.
#[derive(Debug, Clone)]
pub struct Filter {
    pub scope: Scope,
    pub institution_id: Option<InstitutionId>,
    pub active: Option<bool>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<ServiceAccount>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Scope::Institution(i) = f.scope {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    match f.active {
        Some(true) => q = q.filter(t::revoked_at.is_null()),
        Some(false) => q = q.filter(t::revoked_at.is_not_null()),
        None => {}
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows
        .into_iter()
        .map(|r| r.into_account(conn))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |a| a.id))
}

/// What the token endpoint needs to authenticate a client.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub id: i64,
    pub user_id: UserId,
    pub secret_hash: String,
    pub secret_generation: i64,
    pub active: bool,
    pub scopes: Vec<ApiScope>,
}

/// # Errors
/// Database errors; `None` for an unknown client id.
pub fn credentials(conn: &mut DbConn, client_id: &str) -> Result<Option<ClientCredentials>, RepoError> {
    let row: Option<(i64, i64, String, i64, Option<NaiveDateTime>, String)> = t::table
        .filter(t::client_id.eq(client_id))
        .select((
            t::id,
            t::user_id,
            t::secret_hash,
            t::secret_generation,
            t::revoked_at,
            t::scopes,
        ))
        .get_result(conn)
        .optional()?;
    row.map(|(id, user, hash, generation, revoked, scopes)| {
        Ok(ClientCredentials {
            id,
            user_id: UserId(user),
            secret_hash: hash,
            secret_generation: generation,
            active: revoked.is_none(),
            scopes: scopes_of(&scopes)?,
        })
    })
    .transpose()
}

/// The scopes the account holds now, when it is active, acts through `user`
/// and its secret is still of `generation`; `None` otherwise (revoked,
/// rotated or unknown).
///
/// # Errors
/// Database errors.
pub fn current_scopes(
    conn: &mut DbConn,
    id: i64,
    user: UserId,
    generation: i64,
) -> Result<Option<Vec<ApiScope>>, RepoError> {
    let scopes: Option<String> = t::table
        .filter(t::id.eq(id))
        .filter(t::user_id.eq(user.0))
        .filter(t::secret_generation.eq(generation))
        .filter(t::revoked_at.is_null())
        .select(t::scopes)
        .get_result(conn)
        .optional()?;
    scopes.map(|s| scopes_of(&s)).transpose()
}

/// Replaces the secret of an active account, raising its generation so that
/// tokens issued under the old secret stop working. `false`: the account is
/// revoked (or gone).
///
/// # Errors
/// Database errors.
pub fn rotate_secret(conn: &mut DbConn, id: i64, secret_hash: &str, now: NaiveDateTime) -> Result<bool, RepoError> {
    let n = diesel::update(t::table.filter(t::id.eq(id)).filter(t::revoked_at.is_null()))
        .set((
            t::secret_hash.eq(secret_hash),
            t::secret_generation.eq(t::secret_generation + 1_i64),
            t::secret_set_at.eq(now),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Revokes an active account for good and deactivates its user. `false`:
/// it was already revoked (or is gone).
///
/// # Errors
/// Database errors.
pub fn revoke(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<bool, RepoError> {
    let n = diesel::update(t::table.filter(t::id.eq(id)).filter(t::revoked_at.is_null()))
        .set((t::revoked_at.eq(Some(now)), t::updated_at.eq(now)))
        .execute(conn)?;
    if n == 1 {
        let user: i64 = t::table.find(id).select(t::user_id).get_result(conn)?;
        diesel::update(users::table.find(user))
            .set((users::active.eq(false), users::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(n == 1)
}

/// Changes the name, description, roles and scopes of an active account.
/// `false`: it is revoked (or gone).
///
/// # Errors
/// Database errors.
pub fn update(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    description: &str,
    roles: &[Role],
    scopes: &[ApiScope],
    now: NaiveDateTime,
) -> Result<bool, RepoError> {
    let n = diesel::update(t::table.filter(t::id.eq(id)).filter(t::revoked_at.is_null()))
        .set((
            t::name.eq(name),
            t::description.eq(description),
            t::scopes.eq(scope_text(scopes)),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 1 {
        let user: i64 = t::table.find(id).select(t::user_id).get_result(conn)?;
        diesel::update(users::table.find(user))
            .set((users::display_name.eq(name), users::updated_at.eq(now)))
            .execute(conn)?;
        crate::users::set_roles(conn, UserId(user), roles)?;
    }
    Ok(n == 1)
}

/// Records that the account was issued a token.
///
/// # Errors
/// Database errors.
pub fn touch(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> Result<(), RepoError> {
    diesel::update(t::table.find(id))
        .set(t::last_used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// Whether a user is the account of a service account.
///
/// # Errors
/// [`RepoError::NotFound`] when there is no such user.
pub fn is_service_user(conn: &mut DbConn, user: UserId) -> Result<bool, RepoError> {
    let kind: String = users::table.find(user.0).select(users::kind).get_result(conn)?;
    Ok(kind == "service")
}
