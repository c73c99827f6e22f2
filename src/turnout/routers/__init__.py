"""Routers point production traffic and the test endpoint at a color (see turnout.protocols.Router).

builtin  the embedded proxy (turnout.proxy), driven through its admin API
haproxy  HAProxy's Runtime API, mirrored to the files it reads at start
envoy    Envoy with file-based xDS (LDS/CDS/EDS/RDS), renamed into place
nginx    nginx with a Lua balancer reading a shared dict: no reload on a switch

Drivers are found by name through the `turnout.routers` entry points; they never import each other.
"""
