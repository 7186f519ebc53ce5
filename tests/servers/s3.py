"""An S3 API server on a free loopback port (moto's server mode), for staging and archive on object storage.

A separate process rather than moto's in-process mock: the Airflow workers under test are other
processes and must reach the store over HTTP exactly as they would reach MinIO or AWS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx

from tests.servers._common import ChildServer, wait_until

ACCESS_KEY = "batchtasks-test"
SECRET_KEY = "batchtasks-test-secret"  # moto accepts any credentials; these only have to be consistent
REGION = "us-east-1"


class S3Server(ChildServer):
    """moto's S3 on 127.0.0.1:<free port>; ``client()`` is a boto3 client, ``airflow_connection()`` an AWS conn."""

    def __init__(self, *, startup_timeout: float = 60) -> None:
        super().__init__("s3", "moto.log", startup_timeout)

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.endpoint_url}/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    def start(self) -> S3Server:
        if self.running:
            return self
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_until(self._ready, timeout=self.startup_timeout, describe="moto S3 server",
                   alive=lambda: self.running, log_path=self.log_path)
        return self

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def airflow_connection(self) -> str:
        """An ``AIRFLOW_CONN_*`` value (JSON) for the amazon provider: keys + ``endpoint_url`` in the extra."""
        return json.dumps({
            "conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
            "extra": {"endpoint_url": self.endpoint_url, "region_name": REGION},
        })

    def objects(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every key under ``prefix`` with its size."""
        found: dict[str, int] = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
        return found

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

