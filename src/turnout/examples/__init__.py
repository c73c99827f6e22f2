"""The example app turnout's demo deploys (app.py, run as a program, never imported by turnout)."""
