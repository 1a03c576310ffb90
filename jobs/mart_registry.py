"""Every gold mart, in build order. `jobs.pipeline.build_marts` walks this list; a mart module defines its
`MartSpec` (jobs.marts) and adds it here."""

from __future__ import annotations

from jobs.commune_month import COMMUNE_MONTH_MART
from jobs.marts import DOSSIERS_BY_COMMUNE_MONTH_MART, MartSpec
from jobs.scorecard import SCORECARD

MARTS: tuple[MartSpec, ...] = (
    DOSSIERS_BY_COMMUNE_MONTH_MART,
    COMMUNE_MONTH_MART,
    SCORECARD,
)
