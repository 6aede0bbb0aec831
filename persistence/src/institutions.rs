//! Institutions: member units and external organisations.

use crate::schema::institutions as t;
use crate::{parse_enum, DbConn, Page, RepoError, Stored};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::catalogue::{Institution, InstitutionData, InstitutionKind, Membership};
use labshare_domain::codes::CreditCode;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::InstitutionId;

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    name: String,
    credit_code: String,
    kind: String,
    membership: String,
    has_mature_lab: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<Row> for Stored<Institution> {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Stored {
            value: Institution {
                id: InstitutionId(r.id),
                data: InstitutionData {
                    name: r.name,
                    credit_code: CreditCode::parse(&r.credit_code)
                        .map_err(|e| RepoError::Corrupt(format!("credit_code: {e}")))?,
                    kind: parse_enum("kind", &r.kind)?,
                    membership: parse_enum("membership", &r.membership)?,
                    has_mature_lab: r.has_mature_lab,
                },
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = t)]
struct Fields<'a> {
    name: &'a str,
    credit_code: &'a str,
    kind: &'a str,
    membership: &'a str,
    has_mature_lab: bool,
    updated_at: NaiveDateTime,
}

fn fields(d: &InstitutionData, now: NaiveDateTime) -> Fields<'_> {
    Fields {
        name: &d.name,
        credit_code: d.credit_code.as_str(),
        kind: d.kind.as_str(),
        membership: d.membership.as_str(),
        has_mature_lab: d.has_mature_lab,
        updated_at: now,
    }
}

/// # Errors
/// [`RepoError::Conflict`] on a duplicate name or credit code.
pub fn insert(conn: &mut DbConn, data: &InstitutionData, now: NaiveDateTime) -> Result<Stored<Institution>, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((fields(data, now), t::created_at.eq(now)))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such institution.
pub fn get(conn: &mut DbConn, id: InstitutionId) -> Result<Stored<Institution>, RepoError> {
    t::table
        .find(id.0)
        .select(Row::as_select())
        .get_result(conn)?
        .try_into()
}

/// # Errors
/// [`RepoError::NotFound`], or [`RepoError::Conflict`] on a duplicate.
pub fn update(
    conn: &mut DbConn,
    id: InstitutionId,
    data: &InstitutionData,
    now: NaiveDateTime,
) -> Result<Stored<Institution>, RepoError> {
    let row: Row = diesel::update(t::table.find(id.0))
        .set(fields(data, now))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// Filters of the institution list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<InstitutionKind>,
    pub membership: Option<Membership>,
    pub has_mature_lab: Option<bool>,
    /// Text contained in the name.
    pub q: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Stored<Institution>>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(kind) = f.kind {
        q = q.filter(t::kind.eq(kind.as_str()));
    }
    if let Some(m) = f.membership {
        q = q.filter(t::membership.eq(m.as_str()));
    }
    if let Some(b) = f.has_mature_lab {
        q = q.filter(t::has_mature_lab.eq(b));
    }
    if let Some(text) = &f.q {
        q = q.filter(
            crate::text::lower(t::name)
                .like(crate::text::contains_pattern(text))
                .escape('\\'),
        );
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Stored::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |s| s.value.id.0))
}

/// The first institution of a kind, e.g. the commission's own.
///
/// # Errors
/// Database errors.
pub fn first_of_kind(conn: &mut DbConn, kind: InstitutionKind) -> Result<Option<Stored<Institution>>, RepoError> {
    let row: Option<Row> = t::table
        .filter(t::kind.eq(kind.as_str()))
        .order(t::id)
        .select(Row::as_select())
        .first(conn)
        .optional()?;
    row.map(Stored::try_from).transpose()
}

/// How many institutions exist (the demo seed runs only on an empty database).
///
/// # Errors
/// Database errors.
pub fn count(conn: &mut DbConn) -> Result<i64, RepoError> {
    Ok(t::table.count().get_result(conn)?)
}
