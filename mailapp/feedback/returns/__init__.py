"""Reading returned mail: pure functions, no database.

Entry points:
- `bounces`: parse_report (never raises), parse_message, is_mail (the one entry; Report,
  Recipient, judge, classify)
- `codes`: judge (classification and reason of one reply), classify, enhanced_code
- `reasons`: reason_in_text, the words servers use for each reason
- `standard`: RFC 3464/5965/3834 reports and the Report and Recipient shapes
- `heuristics`, `finders`: every other layout; `notifications`: SES notifications by mail
- `text`: a report's own words, where the quoted original begins
"""
