// Package stream takes trades from an exchange's message bus — Kafka or
// RabbitMQ — into the ledger, through the same group-commit writer as POST
// /v1/trades (package ingest): `folio serve --ingest URL` (repeatable) or
// `folio ingest URL...`, a process of its own beside the servers.
//
// # Messages
//
// A message holds one trade (a JSON object), an array of trades or
// {"trades": [...]}, 1 to 1000 trades, each in exactly the JSON of POST
// /v1/trades: the [Decoder] `folio` wires in is api.DecodeTradeMessage,
// which decodes each trade with the same code as the HTTP route.
//
// # URLs
//
//	kafka://broker1:9092,broker2:9092/topic?group=G&dlq=T
//	amqp://user:pass@host:5672/vhost?queue=Q&dlq=Q2&prefetch=N   (amqps:// too)
//
// group defaults to "folio", dlq to the topic or queue name followed by
// ".dead-letters", prefetch to 1000. Unknown parameters are refused.
//
// # Exactly once, in effect
//
// Delivery from either bus is at least once; booking is exactly once
// because a trade is idempotent by its id: a trade booked again with the
// same content comes back as exists, with its original entries. So a
// consumer acknowledges a message (a RabbitMQ ack, a Kafka offset commit)
// only after its trades are committed, and anything it had not
// acknowledged when it stopped — a crash, SIGKILL, a lost connection, a
// rebalance — is delivered again and booked again harmlessly.
//
// Kafka: a consumer group with autocommit off and a worker per assigned
// partition, alive as long as the assignment. The poll loop hands each
// partition's records to its worker (a bounded queue) and polls again at
// once, so fetching overlaps booking and partitions never wait for one
// another. A worker books its partition's records in order, one batch at a
// time — everything queued for it so far, in one Book call — and commits
// the batch's offsets once it is booked. Rebalances are blocked only from
// a poll until its records are queued (kgo.BlockRebalanceOnPoll); when
// partitions are revoked or lost (a rebalance, a lost session, leaving the
// group at shutdown) their workers are stopped and waited for before the
// partitions change hands: a batch already booked is committed, a batch
// being booked is abandoned uncommitted (its trades may still commit: the
// next owner, consuming from the last committed offset, finds them as
// exists), and queued records are dropped.
//
// Order: within a partition, batches are booked one after the other, and
// the chunks of one Book call are queued for the writers in message order
// (ingest.Ingester.EnqueueTrades), so a trader whose trades are published
// to one partition (key them by trader) has them booked in publish order.
// An abandoned batch does not break this: its next owner books it again,
// before anything later, and a trade it finds booked was booked before.
// One exception: during an outage a chunk's group may fail while a later
// chunk's group, committed after the database came back, succeeds; the
// failed chunk is then booked after it.
//
// RabbitMQ: manual acknowledgements and a bounded prefetch (basic.qos);
// the messages delivered so far are booked as a batch (up to 32 batches
// side by side, all within the prefetch window); batches finish in any
// order, and once every delivery up to a point is booked, that prefix is
// acknowledged with one multiple ack. A queue has no order across
// consumers or batches side by side: an exchange that needs a trader's
// trades booked in order on RabbitMQ sends them in one message, or uses
// Kafka keyed by trader. On a lost connection or
// channel the consumer reconnects with backoff, and the broker redelivers
// what was unacknowledged.
//
// Within one call of [Booker.Book], trades go to the writer in chunks of
// 1000 side by side (at most 16 at once), queued in message order, so that
// they share its group commits; a message's trades are acknowledged only
// when every chunk is committed. A deep backlog thus keeps the writers'
// groups full (ingest.Options.MaxItems): measured, that is faster than
// holding fewer trades in flight, as a few HTTP clients do.
//
// # Dead letters
//
// A message that can never be booked — not JSON, not a trade or batch, or
// a trade that does not decode, names an unknown user, has an invalid fee,
// or reuses a booked trade id with other content — goes to the dead
// letters: a row of ingest_dead_letters (append-only, migration 026; GET
// /v1/ingest/dead-letters) with the source, topic or queue, position
// (partition/offset or delivery tag), the error's code and reason and the
// payload cut to 4 KiB, and a message on the dead-letter topic or queue
// with the whole payload and the reason in headers (folio-reason,
// folio-code, folio-source, folio-position, folio-trade-id). In a batch
// message only the failing trades are dead letters; the others are booked.
// The dead letter is recorded before the message is acknowledged, once by
// its key (topic, partition and offset; or queue and message id — or the
// body's SHA-256 when the message has no id — and the trade's index), so a
// redelivery does not record it twice; it may be published to the
// dead-letter destination twice (at least once). A dead letter never
// blocks its partition or queue.
//
// # Outages
//
// When the database is unavailable or the writer's queue is full
// ([Transient]), nothing is acknowledged or committed: the consumer pauses
// with exponential backoff (100 ms doubling to 5 s) and books the same
// messages again, without spinning and without sending them to the dead
// letters. Any other failure of a whole batch is retried message by
// message, and a message that fails alone becomes a dead letter, so no
// message can stall the stream in a loop.
//
// # Metrics
//
// On the server's /metrics: folio_ingest_trades_total{source,status},
// folio_ingest_dead_letters_total{source,destination},
// folio_ingest_consumer_lag{source,destination,partition} (Kafka: per
// partition, the high watermark less the next offset; RabbitMQ: the
// queue's ready messages, read every 5 s) and
// folio_ingest_pauses_total{source}.
//
// # Tests
//
// The tests run RabbitMQ as a private node (streamtest.StartRabbit, Debian's
// rabbitmq-server; `make rabbitmq` installs it) and Kafka as franz-go's
// in-process kfake cluster; FOLIO_TEST_KAFKA_BROKERS=host:9092,... runs
// the same tests against a real Kafka cluster (with topic auto-creation).
package stream
