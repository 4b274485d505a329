"""The seed's flow, unchanged in shape: Prefect imports, a global limit around the dbt step."""
import random
import time

from prefect import flow
from prefect.concurrency.sync import concurrency


@flow(name="clickstream-dbt-run")
def clickstream_dbt_run(database: str, full_refresh: bool = False, store_timezone_offset_minutes: str = "0"):
    print(f"aggregating clickstream for {database} (offset {store_timezone_offset_minutes} min)")
    time.sleep(random.uniform(0.5, 1.0))  # extract
    with concurrency("dbt-global", occupy=1, strict=True):
        print(f"dbt run for {database}: holding a dbt-global slot")
        time.sleep(random.uniform(2.5, 4.0))
    print(f"done: {database}")
