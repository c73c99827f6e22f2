"""The measurement toolkit shared by the checks and the watch: no plugin, no policy.

loadgen, loadresult  bounded keep-alive HTTP load and what it measured
prometheus           scraping and merging an app's Prometheus metrics
stats                Fisher's exact test, Mann-Whitney U: comparisons with a minimum-sample guard
http                 URL joining, instance URLs, JSON fetches
"""
