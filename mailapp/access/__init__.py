"""Who may do what: users, login, roles and permissions, projects, API keys, the audit log.

Everything else sits on top of this package: every mutating service call writes one audit
entry through `audit.record_audit`, and every view and API call checks a `Permission`.

Entry points:
- `users`: create_user, invite_user, change_role, remove_member, set_user_active, change_password
- `preferences`: set_user_timezone, zone_names (a user's own display time zone)
- `login`: authenticate (same cost for unknown accounts), clear_signin_delay
- `throttle`: the sign-in backoff (per account and address, known devices spared; no lock)
- `sessions`: start_session, load_session_user, end_session, end_user_sessions,
  log_out_everywhere (server-side sessions)
- `two_factor`: enable_two_factor, verify_second_factor, regenerate_recovery_codes,
  disable_two_factor (TOTP and one-time recovery codes)
- `two_factor_policy`: set_project_two_factor (an owner requires it), members_two_factor
- `permissions`: Permission, ROLE_PERMISSIONS, permissions_for, role_has
- `projects`: create_project, get_project_by_slug, DEFAULT_SETTINGS (the enforced settings)
- `project_settings`: sending_settings, update_sending_settings (validated, audited), SETTING_HELP
- `validation`: FieldChecker, InvalidSettings (every wrong field named, nothing saved)
- `grants`: actor_has (a user's role or a key's scopes, for rules the domain enforces)
- `apikeys`: create_api_key, revoke_api_key, authenticate_api_key
- `audit`: Actor, record_audit, record_refusal, redact
- `records`: create_record, update_record, delete_record (generic back-office edits, audited)
"""
