package builtin

import (
	"context"
	"fmt"

	"github.com/xgate/xgate/authn"
)

// Authenticator checks clients against the users of a UserStore.
type Authenticator struct {
	cfg   Config
	store UserStore
}

var _ authn.Authenticator = (*Authenticator)(nil)

// New returns the authenticator for cfg, which should come from ParseConfig or have
// passed Validate: with an invalid algorithm every password is refused.
func New(cfg Config, store UserStore) *Authenticator {
	return &Authenticator{cfg: cfg, store: store}
}

// Authenticate looks the client up by username or client id (user_id_type). It ignores
// a client without that id or with no such user, so the next authenticator decides,
// denies a wrong password, and allows a right one, setting c.IsSuperuser from the user.
// A disabled authenticator ignores everyone, as EMQX skips it. The password never
// appears in an error.
func (a *Authenticator) Authenticate(ctx context.Context, c *authn.Client) (authn.Decision, error) {
	if !a.cfg.Enable {
		return authn.Ignore, nil
	}
	id := c.Username
	if a.cfg.UserIDType == UserIDClientID {
		id = c.ClientID
	}
	if id == "" {
		return authn.Ignore, nil
	}
	u, found, err := a.store.LookupUser(ctx, id)
	if err != nil {
		// Deny as well as fail, for a caller that looks at the decision only.
		return authn.Deny, fmt.Errorf("authn %s: %s %q: %w", Backend, a.cfg.UserIDType, id, err)
	}
	if !found {
		return authn.Ignore, nil
	}
	if !a.cfg.PasswordHashAlgorithm.Verify(c.Password, u.PasswordHash, u.Salt) {
		return authn.Deny, nil
	}
	c.IsSuperuser = u.IsSuperuser
	return authn.Allow, nil
}
