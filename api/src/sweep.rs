//! The sweep inside the server: pending bookings whose start has passed
//! expire, approved ones not checked in 30 min after their start become
//! no-shows (and charges them), and idempotency keys past their day are
//! forgotten. It runs every minute on the server's clock; tests call
//! [`run_once`] after moving the clock.

use crate::error::ApiError;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use labshare_domain::booking::{transition, BookingAction, BookingStatus};
use labshare_domain::policy::Policy;
use labshare_persistence::audit::{record, NewEvent};
use labshare_persistence::bookings::{self, Change};
use labshare_persistence::{write_tx, DbConn, RepoError};

/// What one sweep changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: Vec<i64>,
    pub no_shows: Vec<i64>,
    /// Bookings that could not be settled this time (retried next time).
    pub failed: Vec<i64>,
}

fn apply(
    c: &mut DbConn,
    id: i64,
    action: BookingAction,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let before = bookings::get(c, id)?;
    let Ok(to) = transition(before.status, &action, &before.window, policy, now) else {
        return Ok(false);
    };
    let after = match bookings::transition(c, id, before.status, to, &Change::default(), now.naive_utc()) {
        Ok(after) => after,
        // Moved on meanwhile (checked in, cancelled): nothing to do.
        Err(RepoError::NotFound) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let event = NewEvent {
        actor: None,
        action: if to == BookingStatus::Expired {
            "booking.expire"
        } else {
            "booking.no_show"
        },
        object_type: "booking",
        object_id: id,
        // The whole booking, as the API shows it: webhooks publish it as the event's data.
        before: Some(view(before.clone())?),
        after: Some(view(after.clone())?),
    };
    record(c, &event, now.naive_utc())?;
    if to == BookingStatus::NoShow {
        crate::billing::charge(
            c,
            &crate::billing::Event::of_missed_booking(&after, true),
            policy,
            None,
            now,
        )?;
    }
    Ok(true)
}

fn view(b: bookings::Booking) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(crate::routes::bookings::BookingView::from(b))
        .map_err(|e| ApiError::Internal(format!("audit serialisation: {e}")))
}

/// Expires and marks no-shows as of `now`, each booking in a transaction of
/// its own (with its charge), so that one booking that cannot be settled
/// holds up no other and no transaction collects locks across bookings.
///
/// # Errors
/// Database errors while finding the bookings due; a booking that fails is
/// left as it was, logged and reported in `failed`.
pub fn run_once(state: &AppState, now: DateTime<Utc>) -> Result<SweepReport, ApiError> {
    let mut conn = state.pool.get()?;
    let (policy, expire, no_show) = labshare_persistence::read_tx(&mut conn, |c| {
        let policy = crate::routes::policy::current(c, &state.policy)?;
        let grace = chrono::Duration::minutes(policy.no_show_after_minutes);
        let (expire, no_show) = bookings::due_for_sweep(c, now, grace)?;
        Ok::<_, ApiError>((policy, expire, no_show))
    })?;
    let mut report = SweepReport::default();
    let due = expire
        .into_iter()
        .map(|id| (id, BookingAction::Expire))
        .chain(no_show.into_iter().map(|id| (id, BookingAction::MarkNoShow)));
    for (id, action) in due {
        let expiring = action == BookingAction::Expire;
        match write_tx(&mut conn, |c| apply(c, id, action, &policy, now)) {
            Ok(true) if expiring => report.expired.push(id),
            Ok(true) => report.no_shows.push(id),
            Ok(false) => {}
            Err(e) => {
                log::warn!("sweep: booking {id} left as it was: {e}");
                report.failed.push(id);
            }
        }
    }
    // Idempotency keys past their day are forgotten.
    match write_tx(&mut conn, |c| {
        labshare_persistence::idempotency::purge_expired(c, now.naive_utc())
    }) {
        Ok(0) => {}
        Ok(n) => log::info!("sweep: {n} idempotency keys expired"),
        Err(e) => log::warn!("sweep: idempotency keys not purged: {e}"),
    }
    Ok(report)
}

/// Runs the sweep every `every` until the server stops.
pub async fn run_forever(state: AppState, every: std::time::Duration) {
    let mut ticker = actix_web::rt::time::interval(every);
    loop {
        ticker.tick().await;
        let st = state.clone();
        let now = st.now();
        match actix_web::web::block(move || run_once(&st, now)).await {
            Ok(Ok(r)) if !r.expired.is_empty() || !r.no_shows.is_empty() => {
                log::info!("sweep: {} expired, {} no-shows", r.expired.len(), r.no_shows.len());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => log::warn!("sweep failed: {e}"),
            Err(e) => log::warn!("sweep could not run: {e}"),
        }
    }
}
