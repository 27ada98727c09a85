-- Normalisation statistics per band over all valid pixels of the dataset patches (macro
-- s2lake_band_moments: exact integer sums, NO_DATA pixels excluded).
{{ s2lake_band_moments(ref('int_dataset_patches')) }}
