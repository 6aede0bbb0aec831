//! Ratings of completed bookings (and, once service orders are stored, of
//! orders). That each is rated at most once is kept by the database: a
//! second rating fails with [`RepoError::Conflict`] of kind
//! [`ConflictKind::Unique`](crate::error::ConflictKind::Unique).

use crate::schema::{instruments as i, ratings as t};
use crate::{parse_enum, DbConn, Page, RepoError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use labshare_domain::access::InstrumentVisibility;
use labshare_domain::listing::ListingStatus;
use labshare_domain::rating::RatedKind;
use labshare_domain::text_enum::TextEnum;
use labshare_domain::{InstrumentId, UserId};

/// A stored rating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rating {
    pub id: i64,
    pub kind: RatedKind,
    pub booking_id: Option<i64>,
    pub order_id: Option<i64>,
    /// Who rated.
    pub user_id: UserId,
    pub instrument_id: InstrumentId,
    pub score: i32,
    pub comment: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
struct Row {
    id: i64,
    kind: String,
    booking_id: Option<i64>,
    order_id: Option<i64>,
    user_id: i64,
    instrument_id: i64,
    score: i32,
    comment: String,
    created_at: NaiveDateTime,
}

impl TryFrom<Row> for Rating {
    type Error = RepoError;
    fn try_from(r: Row) -> Result<Self, RepoError> {
        Ok(Rating {
            id: r.id,
            kind: parse_enum("kind", &r.kind)?,
            booking_id: r.booking_id,
            order_id: r.order_id,
            user_id: UserId(r.user_id),
            instrument_id: InstrumentId(r.instrument_id),
            score: r.score,
            comment: r.comment,
            created_at: r.created_at,
        })
    }
}

/// What a rating is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rated {
    Booking(i64),
    Order(i64),
}

/// A rating to write.
#[derive(Debug, Clone)]
pub struct NewRating<'a> {
    pub rated: Rated,
    pub user_id: UserId,
    pub instrument_id: InstrumentId,
    pub score: i32,
    pub comment: &'a str,
}

/// # Errors
/// [`RepoError::Conflict`] (unique) when the booking or order is already rated.
pub fn insert(conn: &mut DbConn, r: &NewRating<'_>, now: NaiveDateTime) -> Result<Rating, RepoError> {
    let (kind, booking_id, order_id) = match r.rated {
        Rated::Booking(id) => (RatedKind::Booking, Some(id), None),
        Rated::Order(id) => (RatedKind::Order, None, Some(id)),
    };
    let row: Row = diesel::insert_into(t::table)
        .values((
            t::kind.eq(kind.as_str()),
            t::booking_id.eq(booking_id),
            t::order_id.eq(order_id),
            t::user_id.eq(r.user_id.0),
            t::instrument_id.eq(r.instrument_id.0),
            t::score.eq(r.score),
            t::comment.eq(r.comment),
            t::created_at.eq(now),
        ))
        .returning(t::all_columns)
        .get_result(conn)?;
    row.try_into()
}

/// Filters of the rating list.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Ratings of instruments the reader may see only.
    pub visibility: InstrumentVisibility,
    pub instrument_id: Option<InstrumentId>,
    pub after: Option<i64>,
    pub limit: i64,
}

/// A page of ratings, oldest first.
///
/// # Errors
/// Database errors.
pub fn list(conn: &mut DbConn, f: &Filter) -> Result<Page<Rating>, RepoError> {
    let mut q = t::table.select(Row::as_select()).order(t::id).into_boxed();
    if let InstrumentVisibility::Restricted { own_institution, .. } = f.visibility {
        let scopes: Vec<&str> = f.visibility.foreign_scopes().iter().map(|s| s.as_str()).collect();
        let visible = i::table
            .filter(
                i::institution_id.eq(own_institution.0).or(i::listing_status
                    .eq(ListingStatus::Approved.as_str())
                    .and(i::sharing_scope.eq_any(scopes))),
            )
            .select(i::id);
        q = q.filter(t::instrument_id.eq_any(visible));
    }
    if let Some(id) = f.instrument_id {
        q = q.filter(t::instrument_id.eq(id.0));
    }
    if let Some(after) = f.after {
        q = q.filter(t::id.gt(after));
    }
    let rows: Vec<Row> = q.limit(f.limit + 1).load(conn)?;
    let items = rows.into_iter().map(Rating::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, f.limit, |r| r.id))
}
