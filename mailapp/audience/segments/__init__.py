"""Segments: a JSON rule tree compiled to SQL for both databases, described in plain words.

Entry points:
- `rules`: validate_rule, compile_rule
- `descriptions`: describe_rule
- `store`: save_segment, count_rule, segment_query, recount_segment, freeze_segment, add_segment
"""
