//! Instruments, their managers and their listing state.

use crate::schema::{instrument_managers as m, instruments as t};
use crate::{parse_enum, DbConn, Page, RepoError, Stored};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use labshare_domain::access::{InstrumentAccess, InstrumentVisibility, Scope};
use labshare_domain::catalogue::{Contact, Instrument, InstrumentData, InstrumentStatus, ServiceMode, SharingScope};
use labshare_domain::codes::CategoryCode;
use labshare_domain::listing::ListingStatus;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstitutionId, InstrumentId, LabId, Money, UserId};

/// An instrument as stored, with its listing record and managers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstrumentRecord {
    pub instrument: Instrument,
    /// The reason of the last rejection.
    pub listing_note: Option<String>,
    pub listing_submitted_at: Option<NaiveDateTime>,
    pub listing_decided_at: Option<NaiveDateTime>,
    pub listing_decided_by: Option<UserId>,
    pub managers: Vec<UserId>,
}

impl InstrumentRecord {
    /// What the permission rules need to know of this instrument.
    pub fn access(&self) -> InstrumentAccess {
        InstrumentAccess {
            institution_id: self.instrument.institution_id,
            listing: self.instrument.listing_status,
            sharing_scope: self.instrument.data.sharing_scope,
            managers: self.managers.clone(),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    lab_id: i64,
    institution_id: i64,
    name_zh: String,
    name_en: Option<String>,
    category_code: String,
    model: String,
    manufacturer: String,
    country_of_origin: String,
    asset_number: String,
    original_value_fen: i64,
    purchase_date: NaiveDate,
    commissioning_date: Option<NaiveDate>,
    technical_specs: String,
    functions: String,
    service_content: String,
    disciplines: String,
    photo_url: Option<String>,
    contact_name: String,
    contact_phone: String,
    contact_email: Option<String>,
    status: String,
    sharing_scope: String,
    mode_self_operated: bool,
    mode_assisted: bool,
    mode_sample: bool,
    mode_remote: bool,
    rated_annual_hours: i32,
    listing_status: String,
    listing_note: Option<String>,
    listing_submitted_at: Option<NaiveDateTime>,
    listing_decided_at: Option<NaiveDateTime>,
    listing_decided_by: Option<i64>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_record(self, managers: Vec<UserId>) -> Result<Stored<InstrumentRecord>, RepoError> {
        let disciplines: Vec<String> =
            serde_json::from_str(&self.disciplines).map_err(|e| RepoError::Corrupt(format!("disciplines: {e}")))?;
        let modes = [
            (self.mode_self_operated, ServiceMode::SelfOperated),
            (self.mode_assisted, ServiceMode::Assisted),
            (self.mode_sample, ServiceMode::Sample),
            (self.mode_remote, ServiceMode::Remote),
        ];
        let data = InstrumentData {
            name_zh: self.name_zh,
            name_en: self.name_en,
            category_code: CategoryCode::parse(&self.category_code)
                .map_err(|e| RepoError::Corrupt(format!("category_code: {e}")))?,
            model: self.model,
            manufacturer: self.manufacturer,
            country_of_origin: self.country_of_origin,
            asset_number: self.asset_number,
            original_value: Money::from_fen(self.original_value_fen)
                .map_err(|e| RepoError::Corrupt(format!("original_value_fen: {e}")))?,
            purchase_date: self.purchase_date,
            commissioning_date: self.commissioning_date,
            technical_specs: self.technical_specs,
            functions: self.functions,
            service_content: self.service_content,
            disciplines,
            photo_url: self.photo_url,
            contact: Contact {
                name: self.contact_name,
                phone: self.contact_phone,
                email: self.contact_email,
            },
            status: parse_enum("status", &self.status)?,
            sharing_scope: parse_enum("sharing_scope", &self.sharing_scope)?,
            service_modes: modes.iter().filter(|(on, _)| *on).map(|(_, m)| *m).collect(),
            rated_annual_hours: self.rated_annual_hours,
        };
        Ok(Stored {
            value: InstrumentRecord {
                instrument: Instrument {
                    id: InstrumentId(self.id),
                    lab_id: LabId(self.lab_id),
                    institution_id: InstitutionId(self.institution_id),
                    data,
                    listing_status: parse_enum("listing_status", &self.listing_status)?,
                },
                listing_note: self.listing_note,
                listing_submitted_at: self.listing_submitted_at,
                listing_decided_at: self.listing_decided_at,
                listing_decided_by: self.listing_decided_by.map(UserId),
                managers,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = t, treat_none_as_null = true)]
struct Fields<'a> {
    name_zh: &'a str,
    name_en: Option<&'a str>,
    category_code: &'a str,
    model: &'a str,
    manufacturer: &'a str,
    country_of_origin: &'a str,
    asset_number: &'a str,
    original_value_fen: i64,
    purchase_date: NaiveDate,
    commissioning_date: Option<NaiveDate>,
    technical_specs: &'a str,
    functions: &'a str,
    service_content: &'a str,
    disciplines: String,
    photo_url: Option<&'a str>,
    contact_name: &'a str,
    contact_phone: &'a str,
    contact_email: Option<&'a str>,
    status: &'a str,
    sharing_scope: &'a str,
    mode_self_operated: bool,
    mode_assisted: bool,
    mode_sample: bool,
    mode_remote: bool,
    rated_annual_hours: i32,
    updated_at: NaiveDateTime,
}

fn fields(d: &InstrumentData, now: NaiveDateTime) -> Result<Fields<'_>, RepoError> {
    let has = |mode| d.service_modes.contains(&mode);
    Ok(Fields {
        name_zh: &d.name_zh,
        name_en: d.name_en.as_deref(),
        category_code: d.category_code.as_str(),
        model: &d.model,
        manufacturer: &d.manufacturer,
        country_of_origin: &d.country_of_origin,
        asset_number: &d.asset_number,
        original_value_fen: d.original_value.fen(),
        purchase_date: d.purchase_date,
        commissioning_date: d.commissioning_date,
        technical_specs: &d.technical_specs,
        functions: &d.functions,
        service_content: &d.service_content,
        disciplines: serde_json::to_string(&d.disciplines)
            .map_err(|e| RepoError::Corrupt(format!("disciplines: {e}")))?,
        photo_url: d.photo_url.as_deref(),
        contact_name: &d.contact.name,
        contact_phone: &d.contact.phone,
        contact_email: d.contact.email.as_deref(),
        status: d.status.as_str(),
        sharing_scope: d.sharing_scope.as_str(),
        mode_self_operated: has(ServiceMode::SelfOperated),
        mode_assisted: has(ServiceMode::Assisted),
        mode_sample: has(ServiceMode::Sample),
        mode_remote: has(ServiceMode::Remote),
        rated_annual_hours: d.rated_annual_hours,
        updated_at: now,
    })
}

/// Inserts an unlisted instrument in a lab of `institution`.
///
/// # Errors
/// [`RepoError::Conflict`] on a duplicate asset number or a lab of another institution.
pub fn insert(
    conn: &mut DbConn,
    lab: LabId,
    institution: InstitutionId,
    data: &InstrumentData,
    now: NaiveDateTime,
) -> Result<Stored<InstrumentRecord>, RepoError> {
    let row: Row = diesel::insert_into(t::table)
        .values((
            fields(data, now)?,
            t::lab_id.eq(lab.0),
            t::institution_id.eq(institution.0),
            t::listing_status.eq(ListingStatus::Unlisted.as_str()),
            t::created_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.into_record(Vec::new())
}

/// # Errors
/// [`RepoError::NotFound`] when there is no such instrument.
pub fn get(conn: &mut DbConn, id: InstrumentId) -> Result<Stored<InstrumentRecord>, RepoError> {
    let row: Row = t::table.find(id.0).select(Row::as_select()).get_result(conn)?;
    let managers = managers_of(conn, &[id.0])?.into_iter().map(|(_, u)| u).collect();
    row.into_record(managers)
}

/// Replaces the catalogue fields; the lab and institution never change here.
///
/// # Errors
/// [`RepoError::NotFound`], or [`RepoError::Conflict`] on a duplicate asset number.
pub fn update(
    conn: &mut DbConn,
    id: InstrumentId,
    data: &InstrumentData,
    now: NaiveDateTime,
) -> Result<Stored<InstrumentRecord>, RepoError> {
    diesel::update(t::table.find(id.0))
        .set(fields(data, now)?)
        .execute(conn)?;
    get(conn, id)
}

/// The outcome of a listing step, as stored.
#[derive(Debug, Clone)]
pub struct ListingChange {
    pub status: ListingStatus,
    pub note: Option<String>,
    pub submitted_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub decided_by: Option<UserId>,
}

/// Writes a listing step, only if the listing is still in the state `from`
/// (a concurrent step makes this one fail with [`RepoError::NotFound`]).
///
/// # Errors
/// [`RepoError::NotFound`] when the instrument is gone or its listing moved on.
pub fn set_listing(
    conn: &mut DbConn,
    id: InstrumentId,
    from: ListingStatus,
    change: &ListingChange,
    now: NaiveDateTime,
) -> Result<Stored<InstrumentRecord>, RepoError> {
    let n = diesel::update(t::table.find(id.0).filter(t::listing_status.eq(from.as_str())))
        .set((
            t::listing_status.eq(change.status.as_str()),
            t::listing_note.eq(change.note.as_deref()),
            t::listing_submitted_at.eq(change.submitted_at),
            t::listing_decided_at.eq(change.decided_at),
            t::listing_decided_by.eq(change.decided_by.map(|u| u.0)),
            t::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Err(RepoError::NotFound);
    }
    get(conn, id)
}

/// Replaces the managers of an instrument.
///
/// # Errors
/// [`RepoError::Conflict`] when a user does not exist.
pub fn set_managers(conn: &mut DbConn, id: InstrumentId, managers: &[UserId]) -> Result<(), RepoError> {
    diesel::delete(m::table.filter(m::instrument_id.eq(id.0))).execute(conn)?;
    // One row per statement: batch inserts do not compile on the multi-backend connection.
    for u in managers {
        diesel::insert_into(m::table)
            .values((m::instrument_id.eq(id.0), m::user_id.eq(u.0)))
            .execute(conn)?;
    }
    Ok(())
}

fn managers_of(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, UserId)>, RepoError> {
    let q = m::table
        .order((m::instrument_id, m::user_id))
        .select((m::instrument_id, m::user_id));
    // One instrument (most requests): a statement diesel keeps prepared.
    let rows: Vec<(i64, i64)> = match ids {
        [one] => q.filter(m::instrument_id.eq(one)).load(conn)?,
        _ => q.filter(m::instrument_id.eq_any(ids)).load(conn)?,
    };
    Ok(rows.into_iter().map(|(i, u)| (i, UserId(u))).collect())
}

/// Filters of the catalogue.
#[derive(Debug, Clone)]
pub struct Filter {
    pub visibility: InstrumentVisibility,
    pub institution_id: Option<InstitutionId>,
    pub lab_id: Option<LabId>,
    /// 1–6 digits the category code starts with.
    pub category_prefix: Option<String>,
    pub sharing_scope: Option<SharingScope>,
    pub service_mode: Option<ServiceMode>,
    pub status: Option<InstrumentStatus>,
    pub listing_status: Option<ListingStatus>,
    /// Text contained in the Chinese or English name.
    pub q: Option<String>,
    pub after: Option<i64>,
    pub limit: i64,
}

type Boxed<'a> = t::BoxedQuery<'a, crate::db::MultiBackend>;

fn visible(q: Boxed<'_>, v: InstrumentVisibility) -> Boxed<'_> {
    match v {
        InstrumentVisibility::All => q,
        InstrumentVisibility::Restricted { own_institution, .. } => {
            let scopes: Vec<&str> = v.foreign_scopes().iter().map(|s| s.as_str()).collect();
            q.filter(
                t::institution_id.eq(own_institution.0).or(t::listing_status
                    .eq(ListingStatus::Approved.as_str())
                    .and(t::sharing_scope.eq_any(scopes))),
            )
        }
    }
}

/// The catalogue page an actor may see.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Stored<InstrumentRecord>>, RepoError> {
    let mut q = visible(t::table.into_boxed(), f.visibility);
    if let Some(i) = f.institution_id {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(l) = f.lab_id {
        q = q.filter(t::lab_id.eq(l.0));
    }
    if let Some(p) = &f.category_prefix {
        q = q.filter(t::category_code.like(crate::text::prefix_pattern(p)).escape('\\'));
    }
    if let Some(s) = f.sharing_scope {
        q = q.filter(t::sharing_scope.eq(s.as_str()));
    }
    if let Some(mode) = f.service_mode {
        q = match mode {
            ServiceMode::SelfOperated => q.filter(t::mode_self_operated.eq(true)),
            ServiceMode::Assisted => q.filter(t::mode_assisted.eq(true)),
            ServiceMode::Sample => q.filter(t::mode_sample.eq(true)),
            ServiceMode::Remote => q.filter(t::mode_remote.eq(true)),
        };
    }
    if let Some(s) = f.status {
        q = q.filter(t::status.eq(s.as_str()));
    }
    if let Some(s) = f.listing_status {
        q = q.filter(t::listing_status.eq(s.as_str()));
    }
    if let Some(text) = &f.q {
        let pattern = crate::text::contains_pattern(text);
        q = q.filter(
            crate::text::lower(t::name_zh)
                .like(pattern.clone())
                .escape('\\')
                .or(crate::text::lower(t::name_en.assume_not_null())
                    .like(pattern)
                    .escape('\\')),
        );
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.select(Row::as_select()).order(t::id).limit(f.limit + 1).load(conn)?;
    with_managers(conn, rows, f.limit)
}

fn with_managers(conn: &mut DbConn, rows: Vec<Row>, limit: i64) -> Result<Page<Stored<InstrumentRecord>>, RepoError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let managers = managers_of(conn, &ids)?;
    let items = rows
        .into_iter()
        .map(|r| {
            let mine = managers.iter().filter(|(i, _)| *i == r.id).map(|(_, u)| *u).collect();
            r.into_record(mine)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |s| s.value.instrument.id.0))
}

/// Instruments worth at least `threshold` whose listing is not approved,
/// excluding retired ones: those the measures require to be listed.
///
/// # Errors
/// Database errors.
pub fn listing_overdue(
    conn: &mut DbConn,
    scope: Scope,
    threshold: Money,
    after: Option<i64>,
    limit: i64,
) -> Result<Page<Stored<InstrumentRecord>>, RepoError> {
    let mut q = t::table
        .filter(t::original_value_fen.ge(threshold.fen()))
        .filter(t::listing_status.ne(ListingStatus::Approved.as_str()))
        .filter(t::status.ne(InstrumentStatus::Retired.as_str()))
        .into_boxed();
    if let Scope::Institution(i) = scope {
        q = q.filter(t::institution_id.eq(i.0));
    }
    if let Some(after) = after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.select(Row::as_select()).order(t::id).limit(limit + 1).load(conn)?;
    with_managers(conn, rows, limit)
}

/// The instruments a user manages.
///
/// # Errors
/// Database errors.
pub fn managed_by(conn: &mut DbConn, user: UserId) -> Result<Vec<InstrumentId>, RepoError> {
    let ids: Vec<i64> = m::table
        .filter(m::user_id.eq(user.0))
        .order(m::instrument_id)
        .select(m::instrument_id)
        .load(conn)?;
    Ok(ids.into_iter().map(InstrumentId).collect())
}

/// The ids of an institution's instruments.
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

/// The ids of the instruments an actor may see (for filters on other tables).
///
/// # Errors
/// Database errors.
pub fn visible_ids(conn: &mut DbConn, visibility: InstrumentVisibility) -> Result<Vec<i64>, RepoError> {
    Ok(visible(t::table.into_boxed(), visibility)
        .select(t::id)
        .order(t::id)
        .load(conn)?)
}
