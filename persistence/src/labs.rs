//! Labs of an institution.

use crate::schema::labs as t;
use crate::{parse_enum, DbConn, Page, RepoError, Stored};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::catalogue::{BiosafetyLevel, Contact, Lab, LabData};
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, LabId};

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    institution_id: i64,
    name: String,
    address: String,
    biosafety_level: String,
    accreditation: String,
    contact_name: String,
    contact_phone: String,
    contact_email: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<Row> for Stored<Lab> {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Stored {
            value: Lab {
                id: LabId(r.id),
                institution_id: InstitutionId(r.institution_id),
                data: LabData {
                    name: r.name,
                    address: r.address,
                    biosafety_level: parse_enum("biosafety_level", &r.biosafety_level)?,
                    accreditation: parse_enum("accreditation", &r.accreditation)?,
                    contact: Contact {
                        name: r.contact_name,
                        phone: r.contact_phone,
                        email: r.contact_email,
                    },
                },
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = t, treat_none_as_null = true)]
struct Fields<'a> {
    name: &'a str,
    address: &'a str,
    biosafety_level: &'a str,
    accreditation: &'a str,
    contact_name: &'a str,
    contact_phone: &'a str,
    contact_email: Option<&'a str>,
    updated_at: NaiveDateTime,
}

fn fields(d: &LabData, now: NaiveDateTime) -> Fields<'_> {
    Fields {
        name: &d.name,
        address: &d.address,
        biosafety_level: d.biosafety_level.as_str(),
        accreditation: d.accreditation.as_str(),
        contact_name: &d.contact.name,
        contact_phone: &d.contact.phone,
        contact_email: d.contact.email.as_deref(),
        updated_at: now,
    }
}

/// # Errors
/// [`RepoError::Conflict`] on a duplicate name in the institution or an unknown institution.
pub fn insert(
    conn: &mut DbConn,
    institution: InstitutionId,
    data: &LabData,
    now: NaiveDateTime,
) -> Result<Stored<Lab>, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((
            fields(data, now),
            t::institution_id.eq(institution.0),
            t::created_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such lab.
pub fn get(conn: &mut DbConn, id: LabId) -> Result<Stored<Lab>, RepoError> {
    t::table
        .find(id.0)
        .select(Row::as_select())
        .get_result(conn)?
        .try_into()
}

/// # Errors
/// [`RepoError::NotFound`], or [`RepoError::Conflict`] on a duplicate name.
pub fn update(conn: &mut DbConn, id: LabId, data: &LabData, now: NaiveDateTime) -> Result<Stored<Lab>, RepoError> {
    let row: Row = diesel::update(t::table.find(id.0))
        .set(fields(data, now))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// Filters of the lab list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub institution_id: Option<InstitutionId>,
    pub biosafety_level: Option<BiosafetyLevel>,
    pub q: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Stored<Lab>>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(b) = f.biosafety_level {
        q = q.filter(t::biosafety_level.eq(b.as_str()));
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
