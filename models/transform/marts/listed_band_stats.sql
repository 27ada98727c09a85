-- Band means and standard deviations over the patches of a given list (var stats_list), whatever their
-- validation state, over their valid pixels only. Built only when the var is set.
{{ config(enabled=var('stats_list') != '') }}
{{ s2lake_band_moments(ref('int_stats_list')) }}
