// Package streamtest starts the message brokers that the stream tests run
// against: a private RabbitMQ node (Debian's rabbitmq-server) and an
// in-process Kafka cluster (franz-go's kfake), or a real Kafka broker
// named by FOLIO_TEST_KAFKA_BROKERS.
package streamtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RabbitServer is the rabbitmq-server script run for a private node; the
// Debian package installs it there (make rabbitmq). It is the script
// /usr/sbin/rabbitmq-server wraps, which would switch to the rabbitmq
// user and its HOME.
var RabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// Rabbit is a private RabbitMQ node.
type Rabbit struct {
	URL    string // amqp://guest:guest@127.0.0.1:PORT/
	Port   int
	Dir    string // its data, logs and HOME (the Erlang cookie)
	cmd    *exec.Cmd
	node   string   // its Erlang node name
	env    []string // its environment, for rabbitmqctl
	out    *os.File
	exited chan struct{}
}

// StartRabbit starts a private RabbitMQ node (StartRabbitNode) in a
// temporary directory and stops it when the test ends. A node that cannot
// start fails the test.
func StartRabbit(t testing.TB) *Rabbit {
	t.Helper()
	dir, err := os.MkdirTemp("", "folio-rabbit-")
	if err != nil {
		t.Fatal(err)
	}
	r, err := StartRabbitNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Stop()
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	return r
}

// StartRabbitNode starts a private RabbitMQ node on free ports, with its
// data, logs, Erlang cookie (HOME) and an empty plugin list in dir, and
// waits until it accepts AMQP connections (up to 3 minutes). Stop stops it.
func StartRabbitNode(dir string) (*Rabbit, error) {
	if _, err := os.Stat(RabbitServer); err != nil {
		return nil, fmt.Errorf("RabbitMQ is not installed (%v): run `make rabbitmq` (apt-get install rabbitmq-server)", err)
	}
	plugins := filepath.Join(dir, "enabled_plugins")
	if err := os.WriteFile(plugins, []byte("[].\n"), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dist, err := freePort()
	if err != nil {
		return nil, err
	}
	suffix := make([]byte, 6)
	rand.Read(suffix)
	node := "folio-test-" + hex.EncodeToString(suffix) + "@localhost"
	env := append(os.Environ(),
		"HOME="+dir,
		"RABBITMQ_NODENAME="+node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+plugins,
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		// No busy waiting by the Erlang schedulers: on a machine whose
		// cores are shared (tests, folio bench) a spinning broker takes
		// CPU from the database and the ledger it feeds.
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=+sbwt none +sbwtdcpu none +sbwtdio none",
	)
	out, err := os.Create(filepath.Join(dir, "server.out"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(RabbitServer)
	cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start rabbitmq-server: %w", err)
	}
	r := &Rabbit{URL: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port), Port: port, Dir: dir, cmd: cmd, node: node, env: env,
		out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case <-r.exited:
			r.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			return nil, fmt.Errorf("rabbitmq-server exited before accepting connections\n%s", tail(string(log), 3000))
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return r, nil
		}
		if time.Now().After(deadline) {
			r.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "server.out"))
			return nil, fmt.Errorf("rabbitmq-server did not accept connections within 3 minutes\n%s", tail(string(log), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop stops the node: its process group (the node and its helpers,
// erl_child_setup and inet_gethost; epmd, a daemon shared with other
// nodes, is not in it and stays), SIGTERM then, after 20 s, SIGKILL.
func (r *Rabbit) Stop() {
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-r.exited
	}
	r.out.Close()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// KafkaBrokersEnv names a real Kafka cluster to run the tests against
// instead of kfake: FOLIO_TEST_KAFKA_BROKERS=host1:9092,host2:9092. The
// tests then create topics of their own names (a random suffix), so they
// need auto-creation of topics on the brokers.
const KafkaBrokersEnv = "FOLIO_TEST_KAFKA_BROKERS"

// Kafka returns the seed brokers of a Kafka cluster for a test: those of
// FOLIO_TEST_KAFKA_BROKERS when set, else of an in-process kfake cluster
// (the Kafka protocol over TCP on 127.0.0.1) closed when the test ends,
// seeded with topics, each of partitions partitions.
func Kafka(t testing.TB, partitions int32, topics ...string) []string {
	t.Helper()
	if env := os.Getenv(KafkaBrokersEnv); env != "" {
		brokers := strings.Split(env, ",")
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.Ping(ctx); err != nil {
			t.Fatalf("%s=%s: %v", KafkaBrokersEnv, env, err)
		}
		return brokers
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// Suffix is a random name suffix, for topics and queues of one test.
func Suffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// CloseConnections makes the node close every client connection
// (rabbitmqctl close_all_connections), as a broker restart or a network
// cut would.
func (r *Rabbit) CloseConnections(t testing.TB) {
	t.Helper()
	ctl := filepath.Join(filepath.Dir(RabbitServer), "rabbitmqctl")
	cmd := exec.Command(ctl, "-n", r.node, "close_all_connections", "test")
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rabbitmqctl close_all_connections: %v\n%s", err, out)
	}
}
