package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// streamConn is one stream client's own keep-alive connection to the
// server under test. It writes each POST /v1/trades itself and reads the
// answer with net/http's response parser (http.ReadResponse), one request
// at a time, as a client that waits for each answer does. It bypasses
// http.Transport, whose pool hands every request to the connection's own
// writer and reader goroutines: three goroutine switches a request, which
// with 64 one-trade clients cost the machine CPU that the server and
// PostgreSQL on the same two cores are measured with (the bench's own CPU
// is in its report, cpu_bench_us_per_trade).
type streamConn struct {
	addr, path, key string
	timeout         time.Duration

	conn net.Conn
	r    *bufio.Reader
	req  []byte
}

// newStreamConn returns a connection to base (http://host:port) for
// requests to path; it dials on first use.
func newStreamConn(base, path, key string, timeout time.Duration) (*streamConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Port() == "" {
		return nil, fmt.Errorf("bench: stream to %q: want http://host:port", base)
	}
	return &streamConn{addr: u.Host, path: path, key: key, timeout: timeout}, nil
}

// post sends body as a JSON POST and returns the answer's status and body.
// The connection is closed after an error, or when the server says it
// closes it; the next post dials again.
func (s *streamConn) post(body []byte) (int, []byte, error) {
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.addr, 10*time.Second)
		if err != nil {
			return 0, nil, err
		}
		s.conn, s.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	code, data, keep, err := s.exchange(body)
	if err != nil || !keep {
		s.close()
	}
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", s.path, err)
	}
	if code >= 300 && code != http.StatusServiceUnavailable {
		return code, nil, fmt.Errorf("POST %s: HTTP %d: %s", s.path, code, data)
	}
	return code, data, nil
}

func (s *streamConn) exchange(body []byte) (code int, data []byte, keep bool, err error) {
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, nil, false, err
	}
	s.req = append(s.req[:0], "POST "...)
	s.req = append(s.req, s.path...)
	s.req = append(s.req, " HTTP/1.1\r\nHost: "...)
	s.req = append(s.req, s.addr...)
	s.req = append(s.req, "\r\nAuthorization: Bearer "...)
	s.req = append(s.req, s.key...)
	s.req = append(s.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	s.req = strconv.AppendInt(s.req, int64(len(body)), 10)
	s.req = append(s.req, "\r\n\r\n"...)
	s.req = append(s.req, body...)
	if _, err := s.conn.Write(s.req); err != nil {
		return 0, nil, false, err
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		return 0, nil, false, err
	}
	data, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, nil, false, err
	}
	return resp.StatusCode, data, !resp.Close, nil
}

func (s *streamConn) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.r = nil, nil
	}
}
