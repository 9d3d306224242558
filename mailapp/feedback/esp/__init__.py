"""ESP event webhooks (Amazon SES via SNS, SendGrid, Mailgun, Postmark): verified, kept raw,
deduplicated, normalized, then handed to the feedback policy.

Entry points:
- `intake`: create_inbound_webhook, receive
- `signatures`: verify_sns, verify_sendgrid, verify_mailgun, verify_postmark, check_replay
- `formats`, `mailgun`: each provider's event shapes
"""
