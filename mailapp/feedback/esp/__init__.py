"""ESP event webhooks (Amazon SES via SNS, SendGrid, Mailgun, Postmark): verified, kept raw,
deduplicated, normalized, then handed to the feedback policy.

Entry points:
- `intake`: create_inbound_webhook, receive
- `endpoints`: project_inbound_webhooks, update_inbound_webhook, delete_inbound_webhook,
  inbound_webhook_url
- `signatures`: verify_sns, verify_sendgrid, verify_mailgun, verify_postmark, check_replay
- `formats`, `mailgun`: each provider's event shapes
"""
