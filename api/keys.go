package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/keys"
	"github.com/folioledger/folio/ledger"
)

// keyJSON is a key in responses; Key (the secret) only in the creation's.
type keyJSON struct {
	ID        string  `json:"id"`
	Key       string  `json:"key,omitempty"`
	Role      string  `json:"role"`
	Holder    string  `json:"holder,omitempty"`
	Note      string  `json:"note,omitempty"`
	Person    string  `json:"person"`
	PersonID  string  `json:"person_id"`
	CreatedBy string  `json:"created_by"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at"`
}

func newKeyJSON(k keys.Key) keyJSON {
	out := keyJSON{ID: k.ID, Role: k.Role, Holder: k.Holder, Note: k.Note, Person: k.Person, PersonID: k.PersonID, CreatedBy: k.CreatedBy,
		CreatedAt: formatTime(k.CreatedAt)}
	if k.RevokedAt != nil {
		out.RevokedAt = optString(formatTime(*k.RevokedAt))
	}
	return out
}

// keyRequest is the body of POST /v1/keys.
type keyRequest struct {
	Role   string `json:"role"`
	Holder string `json:"holder"`
	Note   string `json:"note"`
	Person string `json:"person"`
}

func (q keyRequest) newKey() keys.NewKey {
	return keys.NewKey{Role: q.Role, Holder: q.Holder, Note: q.Note, Person: q.Person}
}

// postKey: POST /v1/keys → 201 with the secret, shown once.
func (s *Server) postKey(w http.ResponseWriter, r *http.Request) error {
	var req keyRequest
	if err := s.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	if err := keys.Validate(req.newKey()); err != nil {
		return err
	}
	if req.Holder != "" {
		if _, err := s.affiliate.GetUser(r.Context(), req.Holder); folio.ErrorCode(err) == folio.ENOTFOUND {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"holder"},
				Message: fmt.Sprintf("holder %q is not a registered user; register it (POST /v1/users) before minting its key", req.Holder)}
		} else if err != nil {
			return err
		}
	}
	k, secret, err := keys.MintAt(r.Context(), s.db, req.newKey(), principalFrom(r.Context()).ID, s.clock())
	if err != nil {
		return err
	}
	out := newKeyJSON(k)
	out.Key = secret
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// getKeys: GET /v1/keys, every key without secrets or hashes.
func (s *Server) getKeys(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	list, err := keys.List(r.Context(), s.db)
	if err != nil {
		return err
	}
	out := listJSON[keyJSON]{Data: []keyJSON{}}
	for _, k := range list {
		out.Data = append(out.Data, newKeyJSON(k))
	}
	if asCSV {
		return writeItemsCSV(w, r, "keys.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteKey: DELETE /v1/keys/{id} revokes a key → 204.
func (s *Server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	id := strings.ToLower(chi.URLParam(r, "id"))
	if !ledger.ValidUUID(id) {
		return folio.Errorf(folio.EINVALID, "key id %q is not a UUID", truncate(id, 64))
	}
	if err := keys.RevokeAt(r.Context(), s.db, id, principalFrom(r.Context()).ID, s.clock()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
