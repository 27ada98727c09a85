"""`s2lake ben report`: the BigEarthNet dataset figures from the dbt marts, printed and as an HTML page."""
