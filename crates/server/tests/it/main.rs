//! The server's integration tests, linked into one binary (one link, one process): each module
//! drives the in-process router, or a real listener, the way a client would.

mod aggregate;
mod api;
mod console;
mod console_alerts;
mod console_charts;
mod console_detection;
mod console_export;
mod console_query;
mod console_zone;
mod google;
mod governance;
mod hostile;
mod logto;
mod metrics;
mod nul;
mod null_values;
mod oauth;
mod outage;
mod security;
mod sign_in_risk;
mod stall;
mod support;
mod tenancy;
mod user_agent;
mod wire;
