//! Black-box scenarios over HTTP, each on SQLite and on PostgreSQL.

mod access;
mod assessments;
mod audit;
mod auth;
mod bookings;
mod calendar_ratings;
mod catalogue;
mod charges;
mod contract;
mod deployment;
mod errors;
mod etags;
mod fees;
mod fixtures;
mod idempotency;
mod languages;
mod purchase_reviews;
mod reports;
mod scale;
mod service;
mod service_accounts;
mod webhooks;
