"""Settings shared by every service; each service subclasses with its own `env_prefix` (STYLE 8)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Infrastructure URLs and runtime knobs common to all services.

    Infrastructure URLs are read without prefix (`DATABASE_URL`, `REDIS_URL`,
    `KAFKA_BOOTSTRAP_SERVERS`) so one environment serves the whole stack;
    service-specific knobs carry the service's prefix, e.g. `PODIUM_SCORING_`.
    """

    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore")

    service_name: str = "podium"
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/podium",
        validation_alias=AliasChoices("DATABASE_URL", "PODIUM_DATABASE_URL"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "PODIUM_REDIS_URL"),
    )
    #: Most Redis connections one process opens. A request finding them all busy waits
    #: for one (a burst queues) up to `redis_pool_timeout_seconds`, then fails as an outage.
    redis_max_connections: int = 100
    redis_pool_timeout_seconds: float = 5.0
    #: Exempt the objects built at start from garbage collections (`podium_runtime.gcpolicy`):
    #: a full collection otherwise visits them all, holding every request for 100+ ms.
    gc_freeze_at_start: bool = True
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "PODIUM_KAFKA_BOOTSTRAP_SERVERS"),
    )
    #: Idempotent producer (needs InitProducerId): on for Apache Kafka, off for tansu (SPEC §3).
    kafka_enable_idempotence: bool = Field(
        default=True,
        validation_alias=AliasChoices(
            "KAFKA_ENABLE_IDEMPOTENCE", "PODIUM_KAFKA_ENABLE_IDEMPOTENCE"
        ),
    )
    #: Largest batch of one partition's records the producer builds (aiokafka's default is
    #: 16 KiB). A full batch makes the sender wait for the request in flight, so an outbox
    #: relay pass of a few hundred events took three produce requests; at 256 KiB it takes
    #: one (ADR 0113). Apache Kafka takes batches up to `message.max.bytes` (1 MiB).
    kafka_producer_batch_bytes: int = Field(default=256 * 1024, ge=16 * 1024, le=1_000_000)
    #: Prepended to every topic name; lets test runs share one broker without crosstalk.
    kafka_topic_prefix: str = Field(
        default="",
        validation_alias=AliasChoices("KAFKA_TOPIC_PREFIX", "PODIUM_KAFKA_TOPIC_PREFIX"),
    )
    #: Shared secret of internal service credentials (ADR 0053): the gateway signs every
    #: internal call with it, the other services refuse internal calls not signed with it.
    #: Unset: a random key of this process, so separate processes refuse each other.
    service_credential_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PODIUM_SERVICE_CREDENTIAL_KEY"),
    )
    #: The key before the last rotation, still accepted (never used to sign).
    service_credential_previous_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PODIUM_SERVICE_CREDENTIAL_PREVIOUS_KEY"),
    )
    #: Seconds an internal service credential stays valid after it was signed.
    service_credential_seconds: float = Field(
        default=30.0,
        validation_alias=AliasChoices("PODIUM_SERVICE_CREDENTIAL_SECONDS"),
    )
    host: str = "127.0.0.1"
    port: int = 8000
    #: A listening socket the process that started this one bound for it (its
    #: descriptor, `ports.handed_over`): served instead of binding `host` and `port`.
    listen_fd: int | None = Field(default=None, validation_alias=AliasChoices("PODIUM_LISTEN_FD"))
    #: Seconds an idle HTTP connection stays open for the next request. Longer than a
    #: reader's pause between two pages (uvicorn's 5 s would make most page views open a
    #: new connection) and than the gateway's internal clients keep theirs, so a server
    #: never closes a connection a client is about to reuse.
    keep_alive_seconds: int = 75
    log_level: str = "INFO"
    log_json: bool = True
    #: Attempts per message before it is dead-lettered (SPEC §4); outages do not count.
    consumer_max_attempts: int = 3
    consumer_retry_backoff_seconds: float = 0.2
    #: Longest wait between two tries of the same message while a dependency is down.
    consumer_outage_backoff_max_seconds: float = 10.0
    #: A repeated identical consumer failure is logged at most once per this many seconds.
    consumer_failure_log_interval_seconds: float = 30.0
    #: Consumer group liveness against Apache Kafka (docs/runtime.md, "Consumer settings").
    #: A member that stops heart-beating loses its partitions after the session timeout
    #: (brokers accept 6-300 s by default). Members learn of a rebalance at their next
    #: heart-beat: every 3 s (aiokafka's default, a third of the session timeout) costs
    #: up to 3 s per rebalance and a third of the idle heart-beats of every 1 s.
    consumer_session_timeout_ms: int = 10_000
    consumer_heartbeat_interval_ms: int = 3_000
    #: Longest pause between two polls before the member is considered stuck and replaced.
    consumer_max_poll_interval_ms: int = 300_000
    #: How long the broker may hold a fetch that leaves out partitions with records still
    #: to be consumed: their next fetch waits behind it, so this wait is latency (ADR 0088).
    #: Kafka answers at once when records arrive, tansu does not (the fallback sets 50).
    consumer_fetch_max_wait_ms: int = Field(
        default=20,
        validation_alias=AliasChoices(
            "KAFKA_CONSUMER_FETCH_MAX_WAIT_MS", "PODIUM_CONSUMER_FETCH_MAX_WAIT_MS"
        ),
    )
    #: How long the broker may hold a fetch that covers every assigned partition, so
    #: that nothing waits behind it (`podium_runtime.idle_fetch`): an idle consumer's.
    #: Records end it at once on Apache Kafka; tansu sets 50 here as well.
    consumer_fetch_idle_wait_ms: int = Field(
        default=5_000,
        validation_alias=AliasChoices(
            "KAFKA_CONSUMER_FETCH_IDLE_WAIT_MS", "PODIUM_CONSUMER_FETCH_IDLE_WAIT_MS"
        ),
    )
    #: Longest idle wait of one batch-consumer poll (`batch_poll`). Records end it at
    #: once, so it costs no latency; it only sets how often an idle consumer wakes.
    consumer_batch_poll_ms: int = 1_000
    outbox_batch_size: int = 200
    #: Longest idle wait of the outbox relay. A commit that adds events wakes it at once
    #: (`Outbox.on_commit`); this only bounds how late rows committed elsewhere are seen.
    outbox_max_idle_seconds: float = 5.0
    #: How long a woken outbox relay waits before it looks, so that the commits landing
    #: meanwhile go out in one pass (ADR 0113). 0: at once, for services whose events
    #: are on a latency budget; a service committing many small units of work sets more.
    outbox_relay_gather_ms: int = Field(default=0, ge=0, le=1_000)
    #: Largest serialised event the outbox accepts (the broker's default limit is 1 MiB).
    outbox_max_event_bytes: int = 900_000
    #: Database connections a service holds at most. Each is opened when first needed,
    #: then kept; a unit of work that finds them all busy waits for one (ADR 0108).
    db_pool_size: int = 20
    #: Seconds a health check waits for one dependency.
    health_timeout_seconds: float = 2.0
    # Retention (podium_runtime.operations): sent outbox rows and inbox ids older than
    # these ages are purged every `retention_interval_seconds` (0 disables the job).
    retention_outbox_sent_days: float = 7.0
    retention_inbox_days: float = 30.0
    retention_interval_seconds: float = 3600.0
    #: Statement timeout of the prebuilt read-only queries (podium_runtime.queries).
    query_timeout_ms: int = 5000
