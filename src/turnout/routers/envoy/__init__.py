"""Envoy with file-based xDS (xds renders LDS/CDS/EDS/RDS; driver renames them into place)."""
