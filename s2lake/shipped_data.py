"""Where the data shipped inside the package lies, named once for every layer that reads it (the
reference loaders, the synthesisers, the report): code lists and the country layer need no download."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
#: CLC 2018 classes, BigEarthNet 19 classes, country names (CSV).
CODELISTS = DATA / "codelists"
#: The country layer (Natural Earth admin-0, Europe): labels need no download.
SHIPPED_COUNTRIES = DATA / "countries" / "ne_admin0_europe.geojson"
