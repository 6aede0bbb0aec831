//! The rules of the Nanning shared laboratory platform (《共享实验室平台管理暂行办法》).
//!
//! This crate holds no I/O: every function takes data already loaded (and the
//! current time where it matters) and returns a decision or a typed error. It
//! is the crate to read when checking the product against the measures.

pub mod access;
pub mod assessment;
pub mod booking;
pub mod catalogue;
pub mod codes;
pub mod feeds;
pub mod fees;
pub mod ical;
pub mod ids;
pub mod listing;
pub mod money;
pub mod policy;
pub mod purchase;
pub mod qualification;
pub mod rating;
pub mod report;
pub mod service;
pub mod service_account;
pub mod statement;
pub mod subsidy;
pub mod text_enum;
pub mod throttle;
pub mod usage;
pub mod users;
pub mod validation;
pub mod webhook;

pub use ids::{InstitutionId, InstrumentId, LabId, UserId};
pub use money::Money;
pub use validation::{Invalid, Violation};
