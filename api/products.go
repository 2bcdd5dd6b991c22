package api

import (
	"context"
	"net/http"

	"github.com/folioledger/folio"
	"github.com/folioledger/folio/affiliate"
)

// VIP levels and program versions (issue 15 items 3 and 8).

// vipLevelRequest is the body of PUT /v1/users/{id}/vip-level.
type vipLevelRequest struct {
	VIPLevel *int `json:"vip_level"`
}

// putUserVIPLevel: PUT /v1/users/{id}/vip-level {"vip_level": 2} sets a
// user's VIP level (admin, audit-logged; the history is kept, see
// GET /v1/users/{id}/vip-levels).
func (s *Server) putUserVIPLevel(w http.ResponseWriter, r *http.Request) error {
	return updateUser(s, w, r, func(ctx context.Context, id string, q vipLevelRequest, actor string) error {
		if q.VIPLevel == nil {
			return &folio.Error{Code: folio.EINVALID, Fields: []string{"vip_level"}, Message: "vip_level is required"}
		}
		return s.affiliate.SetVIPLevel(ctx, id, *q.VIPLevel, actor)
	})
}

// vipLevelJSON is one entry of a user's VIP level history.
type vipLevelJSON struct {
	VIPLevel   int    `json:"vip_level"`
	Actor      string `json:"actor"`
	RecordedAt string `json:"recorded_at"`
}

// getUserVIPLevels: GET /v1/users/{id}/vip-levels, the user's VIP level
// history, oldest first (the signup's level, then every change).
func (s *Server) getUserVIPLevels(w http.ResponseWriter, r *http.Request) error {
	id, err := userIDParam(r)
	if err != nil {
		return err
	}
	asCSV, err := wantCSV(r)
	if err != nil {
		return err
	}
	hist, err := s.affiliate.VIPLevels(r.Context(), id)
	if err != nil {
		return err
	}
	out := listJSON[vipLevelJSON]{Data: []vipLevelJSON{}}
	for _, h := range hist {
		out.Data = append(out.Data, vipLevelJSON{VIPLevel: h.Level, Actor: h.Actor, RecordedAt: formatTime(h.RecordedAt)})
	}
	if asCSV {
		return writeItemsCSV(w, r, "vip-levels-"+id+".csv", out.Data)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// programVersionJSON is one version of a program: its configuration as
// given, who recorded it and when.
type programVersionJSON struct {
	Version int64 `json:"version"`
	affiliate.ProgramSpec
	Default    bool   `json:"default"`
	Actor      string `json:"actor"`
	RecordedAt string `json:"recorded_at"`
}

// getProgramVersions: GET /v1/programs/{id}/versions, every version of a
// program, newest first.
func (s *Server) getProgramVersions(w http.ResponseWriter, r *http.Request) error {
	vs, err := s.affiliate.ProgramVersions(r.Context(), pathParam(r, "id"))
	if err != nil {
		return err
	}
	out := listJSON[programVersionJSON]{Data: []programVersionJSON{}}
	for _, v := range vs {
		out.Data = append(out.Data, programVersionJSON{Version: v.Version, ProgramSpec: v.Spec, Default: v.Spec.Default, Actor: v.Actor, RecordedAt: formatTime(v.RecordedAt)})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deleteProgram: DELETE /v1/programs/{id} disables a program from now on:
// a new version, disabled and valid from now; trades executed before keep
// the versions valid at their time, and nothing is deleted. It answers
// 200 with the program.
func (s *Server) deleteProgram(w http.ResponseWriter, r *http.Request) error {
	id := pathParam(r, "id")
	if err := s.affiliate.DisableProgram(r.Context(), id, actor(r)); err != nil {
		return err
	}
	return s.writeProgram(w, r, id, http.StatusOK)
}

// writeProgram answers the current version of program id.
func (s *Server) writeProgram(w http.ResponseWriter, r *http.Request, id string, status int) error {
	all, err := s.affiliate.ListPrograms(r.Context())
	if err != nil {
		return err
	}
	for i := range all {
		if all[i].ID == id {
			writeJSON(w, status, newProgramJSON(&all[i]))
			return nil
		}
	}
	return folio.Errorf(folio.EINTERNAL, "program %s vanished after it was written", id)
}
