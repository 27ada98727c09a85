"""Check the CORINE codes of a source against the code lists before anything is written.

A polygon whose ``code_18`` is not one of the 44 classes finds no name and no BigEarthNet-19 label
in the joins: the patches it covers lose their labels without any error. So a load counts the codes
it does not know and refuses them, unless the user says (``--allow-unknown-codes``) that the file is
meant to hold them. CORINE's own non-class codes (999 NODATA, 990/995 unclassified) are part of the
official files: they are accepted and counted, never refused.
"""

from __future__ import annotations

import logging
from typing import Any

from s2lake.errors import ReferenceDataError
from sedona_jobs.reference.codelists import clc_codes, clc_nodata_codes

log = logging.getLogger(__name__)

#: How many distinct bad codes an error names (a wrong column can hold thousands).
SHOWN_CODES = 10


def normalise_codes(codes: Any) -> Any:
    """CLC codes as strings (``"211"``): integral numbers (``211``, ``211.0`` from a Shapefile or
    GeoJSON) become their digits, text is stripped, missing values stay missing."""
    # lazy: pandas costs ~1.6 s to import; the caller's Series loaded it, importers of this module need not
    import pandas as pd

    if pd.api.types.is_numeric_dtype(codes):
        whole = codes.notna() & (codes == codes.round())
        text = codes.astype("string")
        return text.where(~whole, codes.where(whole).astype("Int64").astype("string"))
    return codes.astype("string").str.strip().replace("", pd.NA)


def check_clc_codes(gdf: Any, source: str, report: Any, *, allow_unknown: bool) -> Any:
    """Count null, NODATA and unknown codes into ``report``; refuse null/unknown ones unless allowed.

    With ``allow_unknown`` polygons with unknown codes are kept (their area gives no label) and
    polygons without a code are dropped (a NULL code would read as "no CLC coverage" in the joins,
    which is what they become); both are counted and logged.
    """
    codes = gdf["code_18"]
    missing = codes.isna()
    known = codes.isin(clc_codes())
    nodata = codes.isin(clc_nodata_codes())
    unknown = ~missing & ~known & ~nodata
    report.null_codes = int(missing.sum())
    report.nodata_codes = int(nodata.sum())
    report.unknown_codes = int(unknown.sum())
    report.unknown_code_values = {str(c): int(n) for c, n in codes[unknown].value_counts().sort_index().items()}
    if report.nodata_codes:
        log.info("clc: %d features carry CORINE's NODATA/unclassified codes (999/990/995)", report.nodata_codes)
    if not (report.null_codes or report.unknown_codes):
        return gdf
    listed = _listing(report.unknown_code_values, report.null_codes)
    if not allow_unknown:
        raise ReferenceDataError(
            f"{report.null_codes + report.unknown_codes} of {len(gdf)} features of {source} have a CODE_18 "
            f"outside the 44 CLC 2018 classes: {listed}",
            fix="load the official CLC 2018 file or correct the codes (the classes are listed in "
            "s2lake/data/codelists/clc2018_classes.csv; 999, 990 and 995 are accepted), or pass "
            "--allow-unknown-codes to load them anyway: polygons with an unknown code are kept but give no "
            "label, polygons without a code are dropped, and patch_validation flags the patches left unlabelled",
        )
    log.warning("clc: loading %s anyway (--allow-unknown-codes): codes outside the classes: %s", source, listed)
    if report.null_codes:
        report.dropped_ids += [f"row {i} (code_18=NULL)" for i in gdf.index[missing.to_numpy()][:50]]
        log.warning("clc: %d features without a code are not loaded", report.null_codes)
        gdf = gdf[~missing.to_numpy()]
    return gdf


def _listing(unknown: dict[str, int], nulls: int) -> str:
    """``'9999' (12 features), NULL (3 features)``, the most frequent first."""
    counts = [(repr(code), n) for code, n in unknown.items()] + ([("NULL", nulls)] if nulls else [])
    counts.sort(key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{code} ({n} feature{'' if n == 1 else 's'})" for code, n in counts[:SHOWN_CODES]]
    if len(counts) > SHOWN_CODES:
        shown.append(f"and {len(counts) - SHOWN_CODES} more codes")
    return ", ".join(shown)
