"""Deploy reports: one picture per operation with the traffic split, request rate, error rate and
p99 per color, the steps marked, and the checks with their measured values.

data   the numbers (pure): traffic series, step markers, check rows; as JSON
plot   the picture (matplotlib, Agg): PNG bytes
page   the self-contained HTML page with the picture embedded
"""
