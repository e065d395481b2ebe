//! Black-box tests of the HTTP API over a real socket, every scenario against SQLite,
//! PostgreSQL (`TASKFLOW_TEST_POSTGRES_URL`) and MongoDB (`TASKFLOW_TEST_MONGO_URL`).

mod scenarios;
mod support;

scenarios!(
    auth::register_and_login,
    auth::refresh_rotation_and_reuse,
    auth::logout_and_logout_all,
    auth::password_change,
    auth::disabled_user,
    auth::login_throttle,
    auth::login_throttle_counts_each_forwarded_client_apart,
    auth::profile_update,
    tasks::create_get_and_etags,
    tasks::patch_and_delete_with_if_match,
    tasks::validation_and_malformed_input,
    tasks::mass_assignment_is_refused,
    tasks::ownership,
    tasks::listing_filters_and_sorts,
    tasks::cursor_pages_neither_skip_nor_repeat,
    tasks::bulk_status_and_stats,
    users::admin_manages_users,
    permissions::permissions_matrix,
    ops::health_metrics_and_docs,
    protocol::status_codes,
    protocol::request_ids_and_security_headers,
    protocol::cors_allowlist,
    protocol::rate_limits,
    hostile::hostile_body_limits,
    hostile::hostile_json,
    hostile::hostile_raw_protocol,
    hostile::hostile_text_fields,
    hostile::hostile_query_params,
    hostile::hostile_values_name_the_expected_format,
);
