"""Reading returned mail: pure functions, no database.

Entry points:
- `bounces`: parse_report, parse_message (the one entry; Report, Recipient, body_text)
- `codes`: classify, enhanced_code
- `standard`, `heuristics`: RFC 3464/5965/3834 reports, and the rest
"""
