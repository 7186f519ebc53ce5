"""Run arguments (``params``, ``dag_run.conf``) kept as values, never as code, wherever a template uses them.

Below every consumer: ``sql.params`` turns them into bind parameters,
``arguments.shell_words`` into quoted shell words, the http operator into
URL-encoded segments.
"""
