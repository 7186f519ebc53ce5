"""OpenLineage reports of the pipeline steps (inputs, outputs, row counts and sizes), sent only when configured."""
