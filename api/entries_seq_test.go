package api

import (
	"fmt"
	"net/http"
	"testing"
)

// TestListEntriesSeqRange: from_seq and to_seq bound the list inclusively,
// pages within the range follow the cursor, and bad bounds are refused.
func TestListEntriesSeqRange(t *testing.T) {
	e := newEnv(t)
	e.currencies()
	for i := 1; i <= 6; i++ {
		e.post(entryBody(fmt.Sprintf("seq-range-%d", i), posting("110:USD", "debit", "1"), posting("201:USD:alice", "credit", "1")))
	}
	seqs := func(path string) (out []int64, next string) {
		t.Helper()
		var page struct {
			Data []struct {
				Seq int64 `json:"seq"`
			} `json:"data"`
			NextCursor string `json:"next_cursor"`
		}
		e.must(http.StatusOK, req{Method: "GET", Path: path, Key: bootstrapKey}).Decode(t, &page)
		for _, d := range page.Data {
			out = append(out, d.Seq)
		}
		return out, page.NextCursor
	}
	got, next := seqs("/v1/entries?from_seq=2&to_seq=5&limit=3")
	if fmt.Sprint(got) != "[2 3 4]" || next == "" {
		t.Fatalf("first page = %v (next %q), want [2 3 4] and a cursor", got, next)
	}
	got, next = seqs("/v1/entries?from_seq=2&to_seq=5&limit=3&cursor=" + next)
	if fmt.Sprint(got) != "[5]" || next != "" {
		t.Errorf("second page = %v (next %q), want [5] and no cursor", got, next)
	}
	if got, _ := seqs("/v1/entries?to_seq=2"); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("to_seq=2 = %v, want [1 2]", got)
	}
	if got, _ := seqs("/v1/entries?from_seq=6"); fmt.Sprint(got) != "[6]" {
		t.Errorf("from_seq=6 = %v, want [6]", got)
	}
	for _, q := range []string{"from_seq=0", "to_seq=x", "from_seq=4&to_seq=3"} {
		e.must(http.StatusBadRequest, req{Method: "GET", Path: "/v1/entries?" + q, Key: bootstrapKey})
	}
}
