package ledger_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/folioledger/folio/ledger"
)

// CanonicalMetadata passes flat canonical objects through without decoding
// them; whatever the input, its answer must be the decoding path's.
func TestCanonicalMetadataFastPath(t *testing.T) {
	cases := []string{
		`{}`, `{"a":"b"}`, `{"liquidity":"taker","market":"BTCUSDT","trade_id":"t-1"}`,
		`{"b":"1","a":"2"}`, `{"a":"1","a":"2"}`, `{"a":"1" ,"b":"2"}`, `{"a":1}`, `{"a":"x\"y"}`,
		`{"a":"x\\y"}`, `{"a":"ü"}`, `{"a":"<&>"}`, `{"a":"1",}`, `{"a":"1"}}`, `{"a"}`, `{"a":}`,
		`{"a":"1""b":"2"}`, `{"":""}`, `{"a":"\u0000"}`, `{"a":"1","b":{"c":"d"}}`, `[]`, `"x"`, `{`, `}`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte(`{}":,ab\ 1`)
	for range 20000 {
		b := make([]byte, 2+rng.IntN(14))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		b[0], b[len(b)-1] = '{', '}'
		cases = append(cases, string(b))
	}
	fast := 0
	for _, c := range cases {
		got, gotErr := ledger.CanonicalMetadata([]byte(c))
		want, wantErr := ledger.DecodeCanonical([]byte(c))
		if (gotErr == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%s: %s (%v), decoded %s (%v)", c, got, gotErr, want, wantErr)
		}
		if gotErr == nil && string(got) == c {
			fast++
		}
	}
	if fast < 10 {
		t.Fatalf("only %d inputs were canonical already: the cases do not reach the fast path", fast)
	}
}
