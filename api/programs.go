package api

import (
	"net/http"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
)

// programJSON is a program: its configuration as given (affiliate.ProgramSpec,
// decimals as strings) with its id and times. "default" is always present.
type programJSON struct {
	ID string `json:"id"`
	affiliate.ProgramSpec
	Default   bool   `json:"default"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	// Version is the current version; History lists every version.
	Version int64  `json:"version"`
	History string `json:"history"`
}

func newProgramJSON(p *affiliate.StoredProgram) programJSON {
	return programJSON{ID: p.ID, ProgramSpec: p.Spec, Default: p.Spec.Default, CreatedAt: formatTime(p.CreatedAt), UpdatedAt: formatTime(p.UpdatedAt),
		Version: p.Version, History: "/v1/programs/" + p.ID + "/versions"}
}

// putProgram: PUT /v1/programs/{id} creates (201) or replaces (200) a
// program. The body is an affiliate.ProgramSpec; unknown fields are
// refused, and the program's rule validates it (a program that could pay
// more than 100% of the basis is invalid_request).
func (s *Server) putProgram(w http.ResponseWriter, r *http.Request) error {
	id := pathParam(r, "id")
	var spec affiliate.ProgramSpec
	if err := s.decodeJSON(w, r, &spec, false); err != nil {
		return err
	}
	created, err := s.affiliate.PutProgram(r.Context(), id, spec, actor(r))
	if err != nil {
		return err
	}
	all, err := s.affiliate.ListPrograms(r.Context())
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].ID == id {
			status := http.StatusOK
			if created {
				status = http.StatusCreated
			}
			writeJSON(w, status, newProgramJSON(&all[i]))
			return nil
		}
	}
	return folio.Errorf(folio.EINTERNAL, "program %s vanished after it was written", id)
}

// getPrograms: GET /v1/programs, every program in id order; JSON or CSV
// (one column per field of the programs, their nested settings as JSON).
func (s *Server) getPrograms(w http.ResponseWriter, r *http.Request) error {
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	all, err := s.affiliate.ListPrograms(r.Context())
	if err != nil {
		return err
	}
	out := listJSON[programJSON]{Data: []programJSON{}}
	for i := range all {
		out.Data = append(out.Data, newProgramJSON(&all[i]))
	}
	if asCSV {
		return writeItemsCSV(w, r, "programs.csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
