"""Helpers of the Apache Kafka suites: an own broker per test, a fault-injecting proxy."""
