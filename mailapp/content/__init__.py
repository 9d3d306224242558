"""What a message says: templates and versions, the rendering sandbox, HTML preparation,
links, assets, preview and test sends, UTM rules, and the visual editor's documents.

Entry points:
- `templates`: create_template, save_draft, submit_for_review, publish_version, rollback
- `submission`: prepare_content (the checks a version must pass to be saved), starter_content
- `starters`: MARKETING_STARTERS, the gallery of responsive layouts a new template starts from
- `jinja_checks`: check_source (syntax, variables, sandbox rules, with line and reason)
- `rendering`: compile_content, render_content, render_snippet, template_context
- `sandbox`, `limits`: the Jinja environment authors' templates run in and its value limits
- `isolation`: render_isolated (in a process killed after RENDER_TIMEOUT), RenderPool
- `links`: extract_links, rewrite_links, add_open_pixel
- `htmlprep`: sanitize_html, html_to_text; `mediacss`: the @media rules kept from a <style>
- `blocks`: check_document, BLOCK_TYPES, new_document (the visual editor's document format)
- `visual`: compile_document, document_to_mjml (MJML, once per saved version)
- `brand`: Brand, brand_for, update_brand; `visual_starters`: VISUAL_STARTERS (the gallery)
- `conversion`: convert_to_html (a visual template becomes an HTML one, one way)
- `assets`: upload_asset, list_assets, delete_asset; `assetstore`: disk or S3
- `preview`: render_preview, send_test
- `utm`: check_utm_rule, utm_url
"""
