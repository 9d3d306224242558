"""Segments: a JSON rule tree compiled to SQL for both databases, described in plain words.

Entry points:
- `fields`: the fields and the operators each allows (one table for builder and compiler)
- `rules`: validate_rule, compile_rule
- `descriptions`: describe_rule, describe_count
- `choices`: builder_choices (this project's attributes, lists and tags for the dropdowns)
- `store`: save_segment, count_rule, segment_query, recount_segment, freeze_segment, add_segment
"""
