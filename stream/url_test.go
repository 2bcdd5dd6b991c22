package stream_test

import (
	"reflect"
	"testing"

	"github.com/folioledger/folio/stream"
)

func TestParseURL(t *testing.T) {
	good := []struct {
		url  string
		want stream.Source
	}{
		{"kafka://b1:9092,b2:9092/trades?group=g1&dlq=dead", stream.Source{Kafka: &stream.KafkaConfig{Brokers: []string{"b1:9092", "b2:9092"}, Topic: "trades", Group: "g1", DeadLetterTopic: "dead"}}},
		{"kafka://localhost:9092/trades", stream.Source{Kafka: &stream.KafkaConfig{Brokers: []string{"localhost:9092"}, Topic: "trades"}}},
		{"amqp://u:p@h:5672/vh?queue=q&dlq=q2&prefetch=50", stream.Source{AMQP: &stream.AMQPConfig{URL: "amqp://u:p@h:5672/vh", Queue: "q", DeadLetterQueue: "q2", Prefetch: 50}}},
		{"amqps://h/?queue=q", stream.Source{AMQP: &stream.AMQPConfig{URL: "amqps://h/", Queue: "q"}}},
	}
	for _, c := range good {
		got, err := stream.ParseURL(c.url)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"", "http://x/y", "kafka://b1/", "kafka:///t", "kafka://b1/t/u", "kafka://b1,,b2/t", "kafka://b1/t?grop=g",
		"amqp://h/vh", "amqp://h/?queue=q&prefetch=0", "amqp://h/?queue=q&prefetch=x", "amqp://h/?queue=q&prefetch=70000",
		"amqp:///?queue=q", "amqp://h/?queue=q&bogus=1", "::not a url",
	} {
		if _, err := stream.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error", bad)
		}
	}
}
