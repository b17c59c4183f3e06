package refserver

import (
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

func groupJSON(g authn.Group, members []authn.Membership) wire.Group {
	out := wire.Group{ID: g.ID, Name: g.Name, CreatedAt: wire.Unix(g.CreatedAt)}
	for _, m := range members {
		out.Members = append(out.Members, wire.GroupMember{Principal: m.PrincipalID, Roles: roleNames(m.Roles)})
	}
	return out
}

func (s *Server) createGroup(rq *request) error {
	var req wire.CreateGroup
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	g, err := s.opts.Auth.CreateGroup(rq.r.Context(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, groupJSON(g, nil))
	return nil
}

func (s *Server) listGroups(rq *request) error {
	gs, err := s.opts.Auth.ListGroups(rq.r.Context())
	if err != nil {
		return err
	}
	out := wire.GroupList{Groups: []wire.Group{}}
	for _, g := range gs {
		out.Groups = append(out.Groups, groupJSON(g, nil))
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) getGroup(rq *request) error {
	g, members, err := s.opts.Auth.GetGroup(rq.r.Context(), rq.r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, groupJSON(g, members))
	return nil
}

func (s *Server) deleteGroup(rq *request) error {
	if err := s.opts.Auth.DeleteGroup(rq.r.Context(), rq.r.PathValue("id")); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// setGroupMember makes a principal a member of a group with the roles
// given, replacing its earlier roles there.
func (s *Server) setGroupMember(rq *request) error {
	var req wire.SetGroupMember
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	roles, err := parseRoleList(req.Roles)
	if err != nil {
		return err
	}
	if roles == 0 {
		return invalid("roles must name at least one role; DELETE the membership to end it")
	}
	group, principal := rq.r.PathValue("id"), rq.r.PathValue("principal")
	if err := s.opts.Auth.SetGroupMember(rq.r.Context(), group, principal, roles); err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.GroupMember{Principal: principal, Roles: roleNames(roles)})
	return nil
}

func (s *Server) deleteGroupMember(rq *request) error {
	if err := s.opts.Auth.SetGroupMember(rq.r.Context(), rq.r.PathValue("id"), rq.r.PathValue("principal"), 0); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
