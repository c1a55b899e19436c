package views

// NavAccount is Page.Active on the account page: the header's "Change password" link is
// marked as the current page. It is not one of NavItems: the link sits next to the user.
const NavAccount = "account"

// AccountPasswordURL is the address of the page where the logged-in user changes their
// password; the default-password banner and the header link there.
const AccountPasswordURL = "/account/password"

// The password form's field names.
const (
	AccountFieldCurrent = "current_password"
	AccountFieldNew     = "new_password"
	AccountFieldRepeat  = "repeat_password"
)

// AccountPassword is the form that changes the logged-in user's password. It never carries
// the passwords themselves: a refused form comes back empty, with the reasons.
type AccountPassword struct {
	// Username is the logged-in user whose password changes.
	Username string
	// Rule describes the passwords that are accepted, shown under the new password.
	Rule string
	// Errors of the last submission, each shown next to its field; empty for none.
	CurrentError, NewError, RepeatError string
}

// HasErrors reports whether the form comes back refused.
func (m AccountPassword) HasErrors() bool {
	return m.CurrentError != "" || m.NewError != "" || m.RepeatError != ""
}

// uipwField is one password input of the form.
type uipwField struct {
	Name         string // the input's name, one of the AccountField* constants
	Label        string
	Autocomplete string // current-password or new-password, for password managers
	Help         string
	Error        string
	Autofocus    bool
}

// fields are the form's inputs in order. The first one with an error has the focus, or the
// current password when there is none.
func (m AccountPassword) fields() []uipwField {
	fs := []uipwField{
		{Name: AccountFieldCurrent, Label: "Current password", Autocomplete: "current-password", Error: m.CurrentError},
		{Name: AccountFieldNew, Label: "New password", Autocomplete: "new-password", Help: m.Rule, Error: m.NewError},
		{Name: AccountFieldRepeat, Label: "Repeat the new password", Autocomplete: "new-password", Error: m.RepeatError},
	}
	focus := 0
	for i, f := range fs {
		if f.Error != "" {
			focus = i
			break
		}
	}
	fs[focus].Autofocus = true
	return fs
}

// uipwID is the HTML id of a field's input; its error and help add "-error" and "-help".
func uipwID(name string) string { return "account-" + name }

// describedBy links an input to its error and its help.
func (f uipwField) describedBy() string {
	ids := ""
	if f.Error != "" {
		ids = uipwID(f.Name) + "-error"
	}
	if f.Help != "" {
		if ids != "" {
			ids += " "
		}
		ids += uipwID(f.Name) + "-help"
	}
	return ids
}
