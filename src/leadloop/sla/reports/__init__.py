"""Reports over the SLA clocks and marketing's delivery: the rep's inbox, compliance per team,
rep and week, marketing's delivery per period, and both teams' scorecards.

The page, its charts, the CSV export and ``GET /api/v1/sla/...`` all read these selectors, so
they show the same numbers. Definitions are METRICS.md's:

- **Compliance** of a group of clocks (a team, a rep, the team's queue) in a week = met /
  (met + breached) among its clocks *due* in that week (the week of the due time, in the
  report's time zone). A running clock already due counts as breached; running clocks not yet
  due, and clocks cancelled or reassigned before a breach, are counted beside, never in the
  share (the same tally as ``sla.selectors.compliance_rows``).
- **Response time** = business time from start to stop, in the clock's team calendar, of the
  clocks stopped by their goal event; median and p90 (linear interpolation).
- **Every rate** carries its count and a 95 % Wilson score interval; fewer than 30 in the
  denominator is a small sample, fewer than 10 is "not enough data" instead of a number.
- **Marketing**: the stored ``MarketingSlaResult`` of each ended period (delivered vs target,
  good-fit share, acceptance = accepted / answered); the running period is counted the same
  way, live, up to now (``marketing_delivery_so_far``).
"""

from leadloop.sla.reports.compliance import (
    ComplianceReport,
    ComplianceSeries,
    Level,
    Tally,
    sla_compliance,
)
from leadloop.sla.reports.inbox import (
    INBOX_STAGES,
    CountdownState,
    InboxGroup,
    InboxRow,
    countdown_text,
    inbox_row,
    inbox_rows,
    team_inbox,
)
from leadloop.sla.reports.marketing import (
    MarketingDeliverySoFar,
    MarketingPeriod,
    marketing_delivery_so_far,
    marketing_periods,
)
from leadloop.sla.reports.rates import (
    NOT_ENOUGH_DATA,
    SMALL_SAMPLE,
    Sample,
    Share,
    Z,
    wilson_interval,
)
from leadloop.sla.reports.scorecards import (
    MarketingScorecard,
    SalesScorecard,
    marketing_scorecard,
    sales_scorecard,
)
from leadloop.sla.reports.zones import MAX_WEEKS, report_zone, team_by_key, weeks_ending

__all__ = [
    "INBOX_STAGES",
    "MAX_WEEKS",
    "NOT_ENOUGH_DATA",
    "SMALL_SAMPLE",
    "ComplianceReport",
    "ComplianceSeries",
    "CountdownState",
    "InboxGroup",
    "InboxRow",
    "Level",
    "MarketingDeliverySoFar",
    "MarketingPeriod",
    "MarketingScorecard",
    "SalesScorecard",
    "Sample",
    "Share",
    "Tally",
    "Z",
    "countdown_text",
    "inbox_row",
    "inbox_rows",
    "marketing_delivery_so_far",
    "marketing_periods",
    "marketing_scorecard",
    "report_zone",
    "sales_scorecard",
    "sla_compliance",
    "team_by_key",
    "team_inbox",
    "weeks_ending",
    "wilson_interval",
]
