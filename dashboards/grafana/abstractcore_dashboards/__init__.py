"""The abstractcore-secrets Grafana dashboards, written as code.

``catalog`` lists the dashboards and renders them to JSON (it needs grafana-foundation-sdk);
``queries`` reads the rendered JSON back and needs nothing but the standard library, so that
tests can run every panel's query against a Prometheus. This module imports neither, so
importing ``queries`` does not import the SDK.
"""
