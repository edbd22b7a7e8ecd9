"""The load test (`make loadtest`): Locust users, seeding, process sampling and the report."""
