"""JSON Schema of definition files, generated from the same pydantic models that validate them.

Editors (VS Code's YAML extension, JetBrains) use it for completion and inline
errors; because it comes from the models it cannot drift from what loads.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from airflow_batchtasks.definitions.models import Orchestration, Project, Task

Definition = Annotated[Project | Task | Orchestration, Field(discriminator="kind")]


def definition_schema() -> dict[str, Any]:
    schema = TypeAdapter(Definition).json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "airflow-batchtasks definition"
    return schema
