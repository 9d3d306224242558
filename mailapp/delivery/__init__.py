"""Sending: campaigns and their states, launch and pre-flight, prepare and dispatch, send
batches and outcomes, composing, rate limits, send windows, guardrails, A/B tests,
transactional mail, senders and the view-in-browser copy.

The send path, file by file: `campaigns` (create, validate) -> `launch` (pre-flight,
frozen snapshot) -> `pipeline` (prepare Delivery rows, plan dispatch) -> `batches`
(`claims`, re-check, `compose`, transport under `ratelimits`) -> `outcomes`.

Entry points:
- `campaigns`: create_campaign, validate_campaign, pause_campaign, resume_campaign,
  cancel_campaign, resend_unknown, stop_all_sending, request_dispatch
- `launch`: preflight, launch_campaign
- `pipeline`: prepare_deliveries, plan_dispatch; `canary`: canary_gate, canary_state
- `batches`: send_batch; `claims`: claim_rows, release_rows, recover_stale_claims
- `guardrails`: enforce_guardrails, check_guardrails; `retries`: RetryPolicy
- `transactional`: submit_message, request_send, get_message; `transactional_send`: send_message
- `senders`: generate_sender_key, dkim_dns_record, set_warmup_plan
- `guardrail_settings`: guardrail_values, set_guardrails (in percent, validated, audited)
- `browser_view`: web_copy
- `mx_providers`: MxGrouper (recipients' provider groups from MX, cached); `throttles`:
  slow_down, slowdowns, throttled_groups (AIMD slow-downs per sender and provider group)
- `domain_setup`: check_sender_domain, records_to_publish (the checks: `dns_checks`,
  `auth_checks`; DNS questions only in `dns_lookup`)
"""
