"""Who mail goes to: contacts, lists, tags, segments, imports, subscriptions, suppression, GDPR.

The suppression list overrides every list and segment; an address is judged in one place
(`addresses.normalize_email`). Segments and imports are sub-packages.

Entry points:
- `addresses`: normalize_email, clean_contact, validate_timezone, InvalidContact
- `contacts`: upsert_contact, upsert_contacts, update_contact, delete_contact, set_quarantine
- `contact_reads`: contact_detail (the support view), list_contacts
- `contact_upserts`: bulk_upsert (set-based, under a duplicate policy, both databases)
- `lists`: create_list, add_contacts, remove_contacts, set_membership_status, list_counts
- `tags`: tag_contacts, untag_contacts, set_contact_tags
- `subscriptions`: subscribe, confirm_subscription, withdraw_consent, expire_unconfirmed
- `confirmation_mail`: send_confirmation (the double opt-in mail, sent by a worker)
- `suppression`: suppress, unsuppress, is_suppressed, filter_unsuppressed, import_suppressions
- `resubscribe`: resubscribe_contact (support, with the consent written down)
- `gdpr`: export_contact, erase_contact, erase_contact_confirmed (typed address)
- `segments/`: rules, descriptions, stored segments; `imports/`: the CSV import wizard and run
"""
