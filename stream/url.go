package stream

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Source is one consumer, parsed from an --ingest URL: exactly one of
// Kafka and AMQP is set.
type Source struct {
	Kafka *KafkaConfig
	AMQP  *AMQPConfig
}

// String names the source without credentials, for logs.
func (s Source) String() string {
	if s.Kafka != nil {
		return "kafka://" + strings.Join(s.Kafka.Brokers, ",") + "/" + s.Kafka.Topic
	}
	u, err := url.Parse(s.AMQP.URL)
	if err == nil {
		u.User = nil
		return u.String() + "?queue=" + s.AMQP.Queue
	}
	return "amqp ?queue=" + s.AMQP.Queue
}

// ParseURL reads an --ingest URL (see the package doc):
//
//	kafka://broker1:9092,broker2:9092/topic?group=G&dlq=T
//	amqp://user:pass@host:5672/vhost?queue=Q&dlq=Q2&prefetch=N
//
// (amqps:// too). Unknown parameters are errors, so a typo is not ignored.
func ParseURL(raw string) (Source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Source{}, fmt.Errorf("ingest URL: %w", err)
	}
	q := u.Query()
	allow := func(names ...string) error {
		for k := range q {
			found := false
			for _, n := range names {
				found = found || k == n
			}
			if !found {
				return fmt.Errorf("ingest URL %s: unknown parameter %q (want %s)", u.Scheme, k, strings.Join(names, ", "))
			}
		}
		return nil
	}
	switch u.Scheme {
	case "kafka":
		if err := allow("group", "dlq"); err != nil {
			return Source{}, err
		}
		topic := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || topic == "" || strings.Contains(topic, "/") {
			return Source{}, fmt.Errorf("ingest URL %q: want kafka://broker1:9092,broker2:9092/topic?group=G&dlq=T", raw)
		}
		var brokers []string
		for _, b := range strings.Split(u.Host, ",") {
			if b == "" {
				return Source{}, fmt.Errorf("ingest URL %q: an empty broker address", raw)
			}
			brokers = append(brokers, b)
		}
		return Source{Kafka: &KafkaConfig{Brokers: brokers, Topic: topic, Group: q.Get("group"), DeadLetterTopic: q.Get("dlq")}}, nil
	case "amqp", "amqps":
		if err := allow("queue", "dlq", "prefetch"); err != nil {
			return Source{}, err
		}
		c := &AMQPConfig{Queue: q.Get("queue"), DeadLetterQueue: q.Get("dlq")}
		if c.Queue == "" || u.Host == "" {
			return Source{}, fmt.Errorf("ingest URL: want amqp://user:pass@host:5672/vhost?queue=Q&dlq=Q2&prefetch=N (queue is required)")
		}
		if p := q.Get("prefetch"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return Source{}, fmt.Errorf("ingest URL: prefetch %q must be an integer from 1 to 65535", p)
			}
			c.Prefetch = n
		}
		u.RawQuery = ""
		c.URL = u.String()
		return Source{AMQP: c}, nil
	}
	return Source{}, fmt.Errorf("ingest URL %q: the scheme must be kafka, amqp or amqps", raw)
}
