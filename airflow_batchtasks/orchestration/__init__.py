"""Orchestrations: conditional chains of batch tasks.

``rules`` (when a step may start), ``status`` (step and instance statuses), ``clock``
(real or test time) are pure; ``instances`` launches, cancels, deletes and reports
instances and needs the metadata DB (API server, CLI), never task code.
"""
