"""Checks: one measurement each. Judging counts and limits is analysis' job."""
