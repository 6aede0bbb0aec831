//! iCalendar feeds (RFC 5545) to subscribe to from Outlook, Apple or
//! WeChat-linked calendars: an instrument's busy time, with nobody's
//! personal details, and each user's own bookings through a secret URL
//! that the user can rotate.
//!
//! The personal feed is reached without a bearer token, because calendar
//! clients cannot send one: the token in its URL is the credential. Only
//! its SHA-256 is stored, it is shown once, and rotating it makes the old
//! URL answer 404.

use crate::auth::{new_refresh_token, token_hash, Bearer};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::extract::{Id, Query};
use crate::routes::{audit, instruments::load_visible};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use labshare_domain::feeds::{
    busy_statuses, feed_range, instrument_calendar_name, instrument_events, personal_events, BusyBlackout, BusyBooking,
    OwnBooking, RangeError, PERSONAL_CALENDAR_NAME, PERSONAL_PAST_DAYS,
};
use labshare_domain::ical::calendar;
use labshare_domain::InstrumentId;
use labshare_persistence::{bookings, calendar_tokens, schedule, users, RepoError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

/// The media type of the feeds.
pub const ICS_CONTENT_TYPE: &str = "text/calendar; charset=utf-8";

/// Where the personal feeds live; the token follows.
pub const PERSONAL_FEED_PREFIX: &str = "/api/v1/calendar/";

/// The range of an instrument feed.
#[derive(Debug, Deserialize, IntoParams, Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// Start of the range (RFC 3339); default 7 days before now, or 67 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (RFC 3339), at most 120 days after `from`; default
    /// 60 days after now, or 67 days after `from`.
    pub to: Option<DateTime<Utc>>,
}

impl From<RangeError> for ApiError {
    fn from(e: RangeError) -> Self {
        let rule = match e {
            RangeError::Empty => "date_order",
            RangeError::TooLong { .. } => "range",
        };
        ApiError::InvalidParameter(vec![FieldProblem::parameter("to", rule, e.to_string())])
    }
}

/// The secret URL of the user's own feed, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CalendarTokenView {
    /// The feed's path on this server; subscribe to it from a calendar client.
    #[schema(example = "/api/v1/calendar/q9XvJ2mC0bHk4TnW7rYpLs1uE6aGdF3iOzNc8VxBwQ0.ics")]
    pub url: String,
    /// The secret in the URL: anyone holding it reads the feed until it is rotated.
    #[schema(example = "q9XvJ2mC0bHk4TnW7rYpLs1uE6aGdF3iOzNc8VxBwQ0")]
    pub token: String,
}

/// What the audit trail keeps of a rotation: never the token.
#[derive(Debug, Serialize)]
struct TokenAudit {
    user_id: i64,
    /// Whether an earlier token was replaced.
    replaced: bool,
    at: DateTime<Utc>,
}

fn ics(body: String, cache: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ICS_CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body)
}

/// The calendar of an instrument's busy time.
///
/// One event per booking holding (or having used) a slot — pending ones
/// tentative — reading only "已预约 Booked", and one per blackout with its
/// kind and reason. No user, purpose or institution is shown. Default
/// range: 7 days back to 60 days ahead; at most 120 days.
#[utoipa::path(get, path = "/api/v1/instruments/{id}/calendar.ics", tag = "calendar", operation_id = "getInstrumentCalendar",
    params(("id" = i64, Path, description = "Instrument id"), FeedQuery),
    responses((status = 200, description = "An RFC 5545 calendar", content_type = "text/calendar", body = String,
        example = json!("BEGIN:VCALENDAR\r\nPRODID:-//LabShare//Nanning Shared Lab Platform//ZH\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:流式细胞仪 占用时间 Busy time\r\nBEGIN:VEVENT\r\nUID:busy-booking-12@labshare\r\nDTSTAMP:20261126T030000Z\r\nDTSTART:20261202T010000Z\r\nDTEND:20261202T030000Z\r\nSUMMARY:已预约 Booked\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))),
    security(("bearer" = [])))]
pub async fn instrument_feed(
    state: web::Data<AppState>,
    bearer: Bearer,
    id: Id,
    query: Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let range = feed_range(query.0.from, query.0.to, state.now())?;
    let body = state
        .read(&bearer, move |c, ctx| {
            let instrument = load_visible(c, ctx, InstrumentId(id.0))?;
            let id = instrument.value.instrument.id;
            let booked: Vec<BusyBooking> = bookings::windows_between(c, id, &range, &busy_statuses())?
                .into_iter()
                .map(|(id, status, window)| BusyBooking { id, status, window })
                .collect();
            let blackouts: Vec<BusyBlackout> = schedule::blackouts_between(c, id, &range)?
                .into_iter()
                .map(|b| BusyBlackout {
                    id: b.id,
                    kind: b.kind,
                    reason: b.reason,
                    window: b.window,
                })
                .collect();
            let name = instrument_calendar_name(&instrument.value.instrument.data.name_zh);
            Ok(calendar(&name, &instrument_events(&booked, &blackouts, ctx.now)))
        })
        .await?;
    Ok(ics(body, "private, max-age=300"))
}

/// Create or rotate the secret URL of one's own calendar.
///
/// Answers the new URL and its token once; only a hash is kept. Any
/// earlier URL stops working at once.
#[utoipa::path(post, path = "/api/v1/me/calendar-token", tag = "calendar", operation_id = "rotateCalendarToken",
    responses((status = 201, description = "The new secret URL", body = CalendarTokenView)),
    security(("bearer" = [])))]
pub async fn rotate_token(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    // The same 256-bit random opaque tokens as refresh tokens, stored as their SHA-256.
    let (token, hash) = new_refresh_token()?;
    state
        .write(&bearer, move |c, ctx| {
            let user = ctx.actor.user_id;
            let replaced = calendar_tokens::rotate(c, user, &hash, ctx.now_naive())?;
            let after = TokenAudit {
                user_id: user.0,
                replaced,
                at: ctx.now,
            };
            audit(
                c,
                ctx,
                "calendar_token.rotate",
                "calendar_token",
                user.0,
                None::<&()>,
                Some(&after),
            )
        })
        .await?;
    let view = CalendarTokenView {
        url: format!("{PERSONAL_FEED_PREFIX}{token}.ics"),
        token,
    };
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// Revoke the secret URL of one's own calendar.
///
/// The URL answers 404 from now on; rotating creates a new one.
#[utoipa::path(delete, path = "/api/v1/me/calendar-token", tag = "calendar", operation_id = "revokeCalendarToken",
    responses((status = 204, description = "Revoked (or there was none)")),
    security(("bearer" = [])))]
pub async fn revoke_token(state: web::Data<AppState>, bearer: Bearer) -> Result<HttpResponse, ApiError> {
    state
        .write(&bearer, move |c, ctx| {
            let user = ctx.actor.user_id;
            if calendar_tokens::revoke(c, user)? {
                let before = TokenAudit {
                    user_id: user.0,
                    replaced: false,
                    at: ctx.now,
                };
                audit(
                    c,
                    ctx,
                    "calendar_token.revoke",
                    "calendar_token",
                    user.0,
                    Some(&before),
                    None::<&()>,
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// One's own bookings as a calendar, through the secret URL.
///
/// No bearer token: the token in the URL is the credential. Events: the
/// user's bookings ending at most 180 days ago and every later one, except
/// rejected and expired requests; the instrument as summary, the purpose as
/// description; pending ones tentative, cancelled ones cancelled. An
/// unknown or rotated token, or a deactivated account, answers 404.
#[utoipa::path(get, path = "/api/v1/calendar/{token}.ics", tag = "calendar", operation_id = "getPersonalCalendar",
    params(("token" = String, Path, description = "The secret token of the feed")),
    responses((status = 200, description = "An RFC 5545 calendar", content_type = "text/calendar", body = String,
        example = json!("BEGIN:VCALENDAR\r\nPRODID:-//LabShare//Nanning Shared Lab Platform//ZH\r\nVERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\nX-WR-CALNAME:LabShare 我的预约 My bookings\r\nBEGIN:VEVENT\r\nUID:booking-12@labshare\r\nDTSTAMP:20261126T030000Z\r\nDTSTART:20261202T010000Z\r\nDTEND:20261202T030000Z\r\nSUMMARY:流式细胞仪\r\nDESCRIPTION:淋巴细胞亚群检测方法学验证\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
              (status = 404, description = "No feed has this token (unknown, rotated or revoked)", body = Problem, content_type = "application/problem+json")))]
pub async fn personal_feed(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let hash = token_hash(req.match_info().get("token").unwrap_or_default());
    let now = state.now();
    let since = now - chrono::Duration::days(PERSONAL_PAST_DAYS);
    let body = state
        .read_anonymous(move |c| {
            let user = calendar_tokens::owner(c, &hash)?;
            // A deactivated account's feed is gone too.
            match users::actor(c, user) {
                Err(RepoError::NotFound) => return Err(ApiError::NotFound),
                other => other?,
            };
            let own: Vec<OwnBooking> = bookings::of_user_with_instrument(c, user, since.naive_utc())?
                .into_iter()
                .map(|(b, instrument_name)| OwnBooking {
                    id: b.id,
                    status: b.status,
                    window: b.window,
                    instrument_name,
                    purpose: b.purpose,
                })
                .collect();
            Ok(calendar(PERSONAL_CALENDAR_NAME, &personal_events(&own, now)))
        })
        .await?;
    Ok(ics(body, "private, no-store"))
}

/// A request path as the access log may show it: the secret of a personal
/// feed is replaced, so that the log never holds a working feed URL.
pub fn redact_feed_token(path_and_query: &str) -> String {
    // Also when mistyped (case, doubled slashes): the token would still work.
    let lower = path_and_query.to_ascii_lowercase();
    match lower.find(PERSONAL_FEED_PREFIX) {
        Some(i) if lower.len() > i + PERSONAL_FEED_PREFIX.len() => {
            format!("{}[redacted]", &path_and_query[..i + PERSONAL_FEED_PREFIX.len()])
        }
        _ => path_and_query.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_log_never_shows_a_feed_token() {
        let table = [
            (
                "/api/v1/calendar/q9XvJ2mC0bHk4TnW7rYpLs1uE6aGdF3iOzNc8VxBwQ0.ics",
                "/api/v1/calendar/[redacted]",
            ),
            ("/api/v1/calendar/abc.ics?x=1", "/api/v1/calendar/[redacted]"),
            ("/api/v1/calendar/", "/api/v1/calendar/"),
            ("//API/V1/Calendar/abc.ics", "//API/V1/Calendar/[redacted]"),
            (
                "/api/v1/instruments/7/calendar.ics?from=2026-12-01T00:00:00Z",
                "/api/v1/instruments/7/calendar.ics?from=2026-12-01T00:00:00Z",
            ),
            ("/api/v1/bookings?mine=true", "/api/v1/bookings?mine=true"),
        ];
        for (path, logged) in table {
            assert_eq!(redact_feed_token(path), logged, "{path}");
        }
    }
}
