"""Reports: campaign reports, project dashboards, segment trends and their CSV exports, all read
from the aggregates `feedback.events` keeps, never from raw events.

Entry points:
- `reports`: campaign_report, project_dashboard
- `dashboard`: project_overview
- `segment_trends`: segment_trends, campaigns_by_segment
- `exports`: campaign_report_csv, engagement_csv, dashboard_csv, segment_trends_csv
- `operations`: OperationsCollector, the state `/metrics` reads when scraped (queues,
  running campaigns, tracking backlog, throttles, heartbeats)
"""
