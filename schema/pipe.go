package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Execer runs a statement whose rows are not read: a pgx.Tx, or a Pipe.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// PlanEachTime, as a query's first argument, makes pgx send it as an
// unnamed statement, which the server plans for its actual arguments every
// time; its parameters and results stay in the binary format (its
// description is cached per connection). The batch statements over a
// growing table need it (`col = ANY($1)`, `JOIN unnest(…)`, `UPDATE … FROM
// unnest(…)`): a prepared statement's generic plan, chosen while the table
// was small, keeps seq-scanning it as it grows, comparing every row with
// every array element. (pgx.QueryExecModeExec also plans each time, but
// sends every parameter as text: arrays of thousands of elements quoted by
// the server and parsed again by the database.) The group-commit writer's
// statements use Sized instead: planning every call was ~14% of
// PostgreSQL's CPU with small groups.
const PlanEachTime = pgx.QueryExecModeCacheDescribe

// Pipe sends a transaction's writes without waiting for each one's result
// (the extended protocol's pipeline mode): the database executes a
// statement while the caller builds and encodes the next, instead of the
// two taking turns. It suits the end of a transaction, once every read is
// done: from the first Exec until Close, tx must not be used, and a
// statement's error surfaces at Close (it fails the transaction, which the
// caller then rolls back or retries as a whole).
//
// Statements run as prepared statements, which must be prepared before the
// pipeline opens: NewPipe takes the text of every statement the pipe may
// run, and the first Exec prepares them all on the transaction's connection
// (once per connection; pgx keeps them). Exec of any other text fails.
//
// The pipe prepares its statements under their size generation (Sized), so
// a statement over a growing table (an UPDATE … FROM unnest(…) of some rows
// of it) is planned again as the journal doubles. One that takes
// PlanEachTime as its first argument, as it would on a pgx.Tx, is sent
// unnamed instead, and the server plans it for its actual arguments each
// time.
type Pipe struct {
	tx    pgx.Tx
	sqls  []string
	sds   map[string]*pgconn.StatementDescription
	p     *pgconn.Pipeline
	args  *paramBuilder // from params while the pipe is open
	err   error
	count int
}

// NewPipe returns a pipe on tx for the statements sqls; nothing is sent
// until the first Exec.
func NewPipe(tx pgx.Tx, sqls ...string) *Pipe {
	return &Pipe{tx: tx, sqls: sqls}
}

// Started reports whether a statement has been sent (tx is then reserved
// until Close).
func (p *Pipe) Started() bool { return p.p != nil || p.err != nil }

// Statements is how many statements have been sent.
func (p *Pipe) Statements() int { return p.count }

// Exec encodes and sends one statement. The command tag is empty: results
// are read at Close.
func (p *Pipe) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if p.err != nil {
		return pgconn.CommandTag{}, p.err
	}
	planEachTime := false
	if len(args) > 0 {
		if mode, ok := args[0].(pgx.QueryExecMode); ok {
			if mode != PlanEachTime {
				p.err = fmt.Errorf("pipe: exec mode %v: only PlanEachTime is supported", mode)
				return pgconn.CommandTag{}, p.err
			}
			planEachTime, args = true, args[1:]
		}
	}
	if p.p == nil {
		if err := p.start(ctx); err != nil {
			p.err = err
			return pgconn.CommandTag{}, err
		}
	}
	sd := p.sds[sql]
	if sd == nil {
		p.err = fmt.Errorf("pipe: statement not declared to NewPipe: %.80s", sql)
		return pgconn.CommandTag{}, p.err
	}
	b := p.args
	if err := b.build(p.tx.Conn().TypeMap(), sd, args); err != nil {
		p.err = err
		return pgconn.CommandTag{}, err
	}
	// Send* copies the parameters into the connection's buffer: b is
	// free for the next statement once they return.
	name := sd.Name
	if planEachTime {
		name = sql
	}
	p.tx.Conn().PgConn().Frontend().Send(reserve(b.messageSize(name, len(sd.ParamOIDs))))
	if planEachTime {
		p.p.SendQueryParams(sql, b.values, sd.ParamOIDs, b.formats, b.results)
	} else {
		p.p.SendQueryStatement(sd, b.values, b.formats, b.results)
	}
	if err := p.p.Flush(); err != nil {
		p.err = err
		return pgconn.CommandTag{}, err
	}
	p.count++
	return pgconn.CommandTag{}, nil
}

func (p *Pipe) start(ctx context.Context) error {
	conn := p.tx.Conn()
	p.sds = make(map[string]*pgconn.StatementDescription, len(p.sqls))
	for _, sql := range p.sqls {
		sd, err := conn.Prepare(ctx, Sized(sql), sql) // see Sized
		if err != nil {
			return err
		}
		p.sds[sql] = sd
	}
	p.p = conn.PgConn().StartPipeline(ctx)
	p.args = params.Get().(*paramBuilder)
	return nil
}

// Close waits for every statement sent and returns the first error (a
// *pgconn.PgError keeps its SQLSTATE, so serialization failures are
// retried like any other). tx is usable again afterwards (or aborted, after
// an error).
func (p *Pipe) Close() error {
	if p.p == nil {
		return p.err
	}
	pl := p.p
	p.p = nil
	p.args.release()
	p.args = nil
	first := p.err
	if err := pl.Sync(); err != nil && first == nil {
		first = err
	}
	for first == nil {
		res, err := pl.GetResults()
		if err != nil {
			first = err
			break
		}
		switch r := res.(type) {
		case *pgconn.ResultReader:
			if _, err := r.Close(); err != nil {
				first = err
			}
		case *pgconn.PipelineSync:
			return p.closePipeline(pl, nil)
		case nil:
			first = errors.New("pipe: results ended before the sync point")
		}
	}
	return p.closePipeline(pl, first)
}

func (p *Pipe) closePipeline(pl *pgconn.Pipeline, first error) error {
	if err := pl.Close(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		p.err = first
	}
	return first
}

// paramBuilder encodes a statement's parameters as pgx.ExtendedQueryBuilder
// does (the same formats: text for Go strings, the type's preferred format
// otherwise, the other one if that fails), into a buffer it keeps from one
// statement and one pipe to the next (params). pgx's builder shrinks its
// buffer back to 256 bytes on every statement, so a batch's array
// parameters (hundreds of kilobytes) were encoded into a buffer regrown by
// doubling every time: the growing and copying were ~40% of the parameter
// encoding, itself ~15% of the server's CPU in an 8 × 500 bench profile.
type paramBuilder struct {
	values  [][]byte
	formats []int16
	results []int16
	buf     []byte
}

// params holds the pipes' parameter builders between pipes.
var params = sync.Pool{New: func() any { return new(paramBuilder) }}

// maxKeptParams bounds the buffer a builder keeps for the next pipe.
const maxKeptParams = 64 << 20

// release returns b to params, unless its buffer grew past maxKeptParams.
func (b *paramBuilder) release() {
	if b == nil || cap(b.buf) > maxKeptParams {
		return
	}
	clear(b.values)
	params.Put(b)
}

func (b *paramBuilder) build(m *pgtype.Map, sd *pgconn.StatementDescription, args []any) error {
	if len(sd.ParamOIDs) != len(args) {
		return fmt.Errorf("pipe: %d arguments for %d parameters", len(args), len(sd.ParamOIDs))
	}
	b.values, b.formats, b.results, b.buf = b.values[:0], b.formats[:0], b.results[:0], b.buf[:0]
	for i, arg := range args {
		oid := sd.ParamOIDs[i]
		format := m.FormatCodeForOID(oid)
		switch arg.(type) {
		case string, *string:
			format = pgx.TextFormatCode
		}
		if err := b.add(m, oid, format, arg); err != nil {
			other := int16(pgx.BinaryFormatCode)
			if format == pgx.BinaryFormatCode {
				other = pgx.TextFormatCode
			}
			if b.add(m, oid, other, arg) != nil {
				return fmt.Errorf("failed to encode args[%d]: %w", i, err)
			}
		}
	}
	for _, f := range sd.Fields {
		b.results = append(b.results, m.FormatCodeForOID(f.DataTypeOID))
	}
	return nil
}

// messageSize bounds the size of the messages that send the statement with
// b's parameters: Parse (when text is the statement's SQL, sent unnamed) or
// none, Bind, Describe and Execute, with the statement's name or text and
// oids parameter types.
func (b *paramBuilder) messageSize(text string, oids int) int {
	n := 64 + len(text) + 4*oids + 2*(len(b.formats)+len(b.results))
	for _, v := range b.values {
		n += 4 + len(v)
	}
	return n
}

// reserve is a message of no bytes that makes room for n more bytes in the
// connection's write buffer. pgproto3's Frontend starts the buffer again at
// 1 kB after every flush of more than that, so a statement's Bind (its array
// parameters: hundreds of kB for a large batch) was appended into a buffer
// regrown by doubling, allocating and copying about twice its size; sent
// first, reserve makes it one allocation of the right size. It writes
// nothing and hands the Frontend no buffer of ours, so it is correct
// whatever the Frontend does with its buffer.
type reserve int

func (reserve) Frontend()           {}
func (reserve) Decode([]byte) error { return errors.New("pipe: reserve is never received") }
func (n reserve) Encode(dst []byte) ([]byte, error) {
	return slices.Grow(dst, int(n)), nil
}

// add encodes one parameter in format: a nil encoding is SQL NULL.
func (b *paramBuilder) add(m *pgtype.Map, oid uint32, format int16, arg any) error {
	pos := len(b.buf)
	buf, err := m.Encode(oid, format, arg, b.buf)
	if err != nil {
		return err
	}
	var v []byte
	if buf != nil {
		b.buf, v = buf, buf[pos:len(buf):len(buf)]
	}
	b.values = append(b.values, v)
	b.formats = append(b.formats, format)
	return nil
}
